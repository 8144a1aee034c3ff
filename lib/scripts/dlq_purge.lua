-- dlq_purge.lua: delete dead-lettered tasks for good, a bounded batch at a
-- time (libcodeq calls it until it returns 0, so one call never blocks the
-- store for long).
--
-- KEYS[1]  codeq:{Q}:dlq
-- ARGV     1 Q  2 limit
-- Pre:     none.
-- Post:    up to limit ids popped from the head of the DLQ; the task hash of
--          each is deleted if its status is still "dead".
-- Returns  N (ids removed)
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local limit = tonumber(ARGV[2])
local n = 0
while n < limit do
	local id = redis.call('LPOP', KEYS[1])
	if not id then break end
	local tkey = task_key(P, id)
	if redis.call('HGET', tkey, 'status') == 'dead' then
		redis.call('DEL', tkey)
	end
	n = n + 1
end
return n
