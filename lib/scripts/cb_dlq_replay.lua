-- cb_dlq_replay.lua: give dead-lettered result callbacks a new round of
-- delivery attempts.
--
-- KEYS[1]  codeq:{Q}:cbdlq
-- ARGV     1 Q  2 item number, or '' for the oldest items  3 limit
-- Pre:     none.
-- Post:    each item replayed is removed from the DLQ, its deliveries reset
--          to 0 and dead_at cleared, and it is due now in the outbox (its
--          webhook-id stays the same: receivers de-duplicate).  Numbers
--          whose hash is gone are dropped.
-- Returns  the number of items replayed
local P = 'codeq:{' .. ARGV[1] .. '}:'
local now = now_ms()
local ns
if ARGV[2] ~= '' then
	if redis.call('LREM', KEYS[1], 0, ARGV[2]) == 0 then return 0 end
	ns = { ARGV[2] }
else
	ns = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)
	if #ns > 0 then redis.call('LTRIM', KEYS[1], #ns, -1) end
end
local moved = 0
for _, n in ipairs(ns) do
	local key = P .. 'cb:' .. n
	if redis.call('EXISTS', key) == 1 then
		redis.call('HSET', key, 'deliveries', '0')
		redis.call('HDEL', key, 'dead_at', 'lease')
		redis.call('ZADD', P .. 'outbox', int(now), n)
		moved = moved + 1
	end
end
return moved
