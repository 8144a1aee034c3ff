-- cb_retry.lua: a delivery failed and may be retried later.
--
-- KEYS[1]  codeq:{Q}:outbox
-- ARGV     1 Q  2 item number  3 lease token  4 delay_ms  5 last_status
--          6 last_error  7 '1' when the delivery never happened (the
--          sender released the item on shutdown: not counted)
-- Pre:     the item exists and its lease is the token (else another sender
--          took it after this one's lease ran out: leave it alone).
-- Post:    due again at now + delay; last_status, last_error recorded
--          (a release instead gives the delivery back).
-- Returns  1, or 0 when the item is gone or leased by another sender
local P = 'codeq:{' .. ARGV[1] .. '}:'
local key = P .. 'cb:' .. ARGV[2]
if redis.call('HGET', key, 'lease') ~= ARGV[3] then return 0 end
local now = now_ms()
redis.call('ZADD', KEYS[1], int(now + tonumber(ARGV[4])), ARGV[2])
redis.call('HDEL', key, 'lease')
if ARGV[7] == '1' then
	redis.call('HINCRBY', key, 'deliveries', -1)
else
	redis.call('HSET', key, 'last_status', ARGV[5], 'last_error', ARGV[6])
end
return 1
