-- dlq_requeue.lua: give dead-lettered tasks a new life.
--
-- KEYS[1]  codeq:{Q}:dlq
-- ARGV     1 Q  2 id ('' : from the head)  3 limit
-- Pre:     with an id: the id is in the DLQ (else NOTFOUND).
-- Post:    each task leaves the DLQ; attempts reset to 0, error kept, status
--          ready, id appended to ready:P, expiry removed; ids without a hash
--          are dropped.  PUBLISH codeq:ready "Q N".
-- Returns  N (tasks requeued)
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()
local ids
if ARGV[2] ~= '' then
	if redis.call('LREM', KEYS[1], 1, ARGV[2]) == 0 then
		return redis.error_reply('NOTFOUND task ' .. ARGV[2] ..
			' is not in the dead-letter queue of ' .. Q)
	end
	ids = {ARGV[2]}
else
	ids = {}
	local limit = tonumber(ARGV[3])
	while #ids < limit do
		local id = redis.call('LPOP', KEYS[1])
		if not id then break end
		ids[#ids + 1] = id
	end
end
local n = 0
for _, id in ipairs(ids) do
	local tkey = task_key(P, id)
	local prio = redis.call('HGET', tkey, 'priority')
	if prio then
		redis.call('PERSIST', tkey)
		redis.call('HSET', tkey, 'status', 'ready', 'attempts', '0',
			'ready_at', int(now), 'updated_at', int(now))
		redis.call('HDEL', tkey, 'completed_at', 'due_at', 'lease_token',
			'lease_until')
		redis.call('RPUSH', P .. 'ready:' .. prio, id)
		n = n + 1
	end
end
publish_ready(Q, n)
return n
