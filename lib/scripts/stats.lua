-- stats.lua: one consistent snapshot of queue Q (read only).
--
-- KEYS[1]  codeq:{Q}:stats
-- ARGV     1 Q
-- Returns  {ready:0 .. ready:9 lengths, delayed, leased, dlq, outbox,
--           cbdlq, age of the oldest ready task in ms (0 if none),
--           counters as a flat field/value array}
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()
local out = {}
local oldest = nil
for prio = 0, 9 do
	out[#out + 1] = redis.call('LLEN', P .. 'ready:' .. prio)
	local head = redis.call('LINDEX', P .. 'ready:' .. prio, 0)
	if head then
		local tkey = task_key(P, head)
		local f = redis.call('HMGET', tkey, 'ready_at', 'created_at')
		local at = tonumber(f[1] or f[2])
		if at and (oldest == nil or at < oldest) then oldest = at end
	end
end
out[#out + 1] = redis.call('ZCARD', P .. 'delayed')
out[#out + 1] = redis.call('ZCARD', P .. 'leased')
out[#out + 1] = redis.call('LLEN', P .. 'dlq')
out[#out + 1] = redis.call('ZCARD', P .. 'outbox')
out[#out + 1] = redis.call('LLEN', P .. 'cbdlq')
local age = 0
if oldest and now > oldest then age = now - oldest end
out[#out + 1] = age
out[#out + 1] = redis.call('HGETALL', KEYS[1])
return out
