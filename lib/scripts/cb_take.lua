-- cb_take.lua: take due result-callback items of queue Q for sending.
--
-- KEYS[1]  codeq:{Q}:outbox
-- ARGV     1 Q  2 limit  3 visibility_ms  4 lease token (the sender's)
-- Pre:     none.
-- Post:    for up to limit item numbers of the outbox with score <= now:
--          score pushed to now + visibility (the lease: no other sender
--          takes the item before it runs out, and if this sender dies the
--          item becomes due again by itself), deliveries + 1, lease = the
--          token.  Numbers whose hash is gone are dropped from the outbox.
-- Returns  a flat array, 10 fields per item: n task_id url status result
--          error attempts completed_at traceparent deliveries
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()
local until_ms = now + tonumber(ARGV[3])
local ns = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', int(now),
	'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, n in ipairs(ns) do
	local key = P .. 'cb:' .. n
	local f = redis.call('HMGET', key, 'task_id', 'url', 'status',
		'result', 'error', 'attempts', 'completed_at', 'traceparent')
	if not f[1] then
		redis.call('ZREM', KEYS[1], n)
	else
		redis.call('ZADD', KEYS[1], int(until_ms), n)
		local d = redis.call('HINCRBY', key, 'deliveries', 1)
		redis.call('HSET', key, 'lease', ARGV[4])
		out[#out + 1] = n
		for i = 1, 8 do out[#out + 1] = f[i] or '' end
		out[#out + 1] = int(d)
	end
end
return out
