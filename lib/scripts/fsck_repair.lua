-- fsck_repair.lua: put one task back where its status says (invariant 2).
--
-- KEYS[1]  codeq:{Q}:t:SEQ (the task hash; may be missing)
-- ARGV     1 Q  2 id  3 retention_ms
-- Pre:     fsck found the id in a wrong place, in two places, or in none.
-- Post:    the id is removed from every container of the queue (ready:0-9,
--          delayed, leased, dlq); then, if the hash exists:
--            ready   -> appended to ready:P
--            delayed -> delayed, scored due_at (now if missing;
--                       PUBLISH codeq:delayed as enqueue.lua)
--            leased  -> leased, scored lease_until (now if missing: the
--                       reaper requeues it with the attempt counted)
--            dead    -> appended to the DLQ
--            completed/failed -> nowhere; given the retention if it had
--                       no expiry
--            anything else -> status ready, appended to ready:P
--          A hash missing: the id is only removed (nothing to run).
-- Returns  the status the task ended in, or "removed".
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()
local id = ARGV[2]
if tonumber(ARGV[3]) == nil then
	return redis.error_reply('INVAL fsck_repair: malformed retention')
end
for prio = 0, 9 do redis.call('LREM', P .. 'ready:' .. prio, 0, id) end
redis.call('ZREM', P .. 'delayed', id)
redis.call('ZREM', P .. 'leased', id)
redis.call('LREM', P .. 'dlq', 0, id)
local f = redis.call('HMGET', KEYS[1], 'status', 'priority', 'due_at',
	'lease_until')
if not f[1] then return 'removed' end
local st = f[1]
local prio = tonumber(f[2])
if prio == nil or prio < 0 or prio > 9 then
	prio = 0
	redis.call('HSET', KEYS[1], 'priority', '0')
end
if st == 'delayed' then
	schedule_delayed(P, Q, id, tonumber(f[3]) or now, now)
elseif st == 'leased' then
	redis.call('ZADD', P .. 'leased', f[4] or int(now), id)
elseif st == 'dead' then
	redis.call('RPUSH', P .. 'dlq', id)
elseif st == 'completed' or st == 'failed' then
	if redis.call('PTTL', KEYS[1]) < 0 then
		redis.call('PEXPIRE', KEYS[1], ARGV[3])
	end
else
	st = 'ready'
	redis.call('HSET', KEYS[1], 'status', 'ready', 'ready_at', int(now))
	redis.call('RPUSH', P .. 'ready:' .. int(prio), id)
end
redis.call('HSET', KEYS[1], 'updated_at', int(now))
return st
