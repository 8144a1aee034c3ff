-- cb_ack.lua: a result callback was delivered (2xx): forget the item.
--
-- KEYS[1]  codeq:{Q}:outbox
-- ARGV     1 Q  2 item number
-- Pre:     none (an item delivered under a lease that ran out, and taken
--          again meanwhile, is still delivered: at-least-once).
-- Post:    the item's hash deleted, removed from the outbox.
-- Returns  1 when the item existed, else 0
local P = 'codeq:{' .. ARGV[1] .. '}:'
redis.call('ZREM', KEYS[1], ARGV[2])
return redis.call('DEL', P .. 'cb:' .. ARGV[2])
