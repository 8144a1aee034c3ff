-- cb_dead.lua: a delivery failed for good (permanent error or last
-- attempt): move the item to the callbacks' dead-letter queue.
--
-- KEYS[1]  codeq:{Q}:outbox
-- ARGV     1 Q  2 item number  3 lease token  4 last_status  5 last_error
-- Pre:     the item exists and its lease is the token.
-- Post:    removed from the outbox, appended to codeq:{Q}:cbdlq; the hash
--          keeps last_status, last_error and dead_at for the operator.
-- Returns  1, or 0 when the item is gone or leased by another sender
local P = 'codeq:{' .. ARGV[1] .. '}:'
local key = P .. 'cb:' .. ARGV[2]
if redis.call('HGET', key, 'lease') ~= ARGV[3] then return 0 end
local now = now_ms()
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('RPUSH', P .. 'cbdlq', ARGV[2])
redis.call('HSET', key, 'last_status', ARGV[4], 'last_error', ARGV[5],
	'dead_at', int(now))
redis.call('HDEL', key, 'lease')
return 1
