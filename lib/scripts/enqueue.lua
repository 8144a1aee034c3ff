-- enqueue.lua: add one task to queue Q (or return the task an idempotency
-- key already names).
--
-- KEYS[1]  codeq:{Q}:seq        (every other key is built here with the
--                                same {Q} hash tag: one slot per queue)
-- ARGV     1 Q  2 payload (JSON)  3 priority 0-9  4 delay_ms  5 at_ms (0: unset)
--          6 max_attempts  7 idempotency key ('' none)  8 idempotency TTL ms
--          9 webhook URL ('' none)  10 traceparent ('' none)
-- Pre:     Q valid, payload valid JSON within the size limit (checked by the
--          client).
-- Post:    new hash codeq:{Q}:t:SEQ; id in ready:P (due now) or delayed
--          (due later); stats.enqueued + 1; PUBLISH codeq:ready "Q 1" when
--          ready; PUBLISH codeq:delayed "Q WAIT_MS" when delayed and due
--          before every other delayed task of Q; idempotency key set with
--          its TTL.
-- Returns  {id, duplicate 0|1, status}
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()

local prio = tonumber(ARGV[3])
if prio == nil or prio < 0 or prio > 9 or prio % 1 ~= 0 then
	return redis.error_reply('INVAL priority: must be 0-9, got ' .. ARGV[3])
end

local idem = ARGV[7]
if idem ~= '' then
	local prev = redis.call('GET', P .. 'idem:' .. idem)
	if prev then
		local st = redis.call('HGET', task_key(P, prev), 'status') or
			'expired'
		return {prev, 1, st}
	end
end

-- Every argument is checked before the first write: a Lua error after a
-- write would leave that write in place (scripts do not roll back).
local delay, at = tonumber(ARGV[4]), tonumber(ARGV[5])
if delay == nil or at == nil or tonumber(ARGV[6]) == nil or
    (idem ~= '' and tonumber(ARGV[8]) == nil) then
	return redis.error_reply('INVAL enqueue: malformed numeric argument')
end
local due = now + delay
if at > 0 then due = at end
local status = 'ready'
if due > now then status = 'delayed' end

local seq = redis.call('INCR', KEYS[1])
local id = Q .. ':' .. int(seq)
local tkey = P .. 't:' .. int(seq)

-- One HSET with every field (the hot path of bulk enqueues).
local f = {'id', id, 'queue', Q, 'payload', ARGV[2], 'priority', int(prio),
	'status', status, 'attempts', '0', 'max_attempts', ARGV[6],
	'created_at', int(now), 'updated_at', int(now)}
if ARGV[9] ~= '' then f[#f + 1] = 'webhook'; f[#f + 1] = ARGV[9] end
if ARGV[10] ~= '' then f[#f + 1] = 'traceparent'; f[#f + 1] = ARGV[10] end
if idem ~= '' then f[#f + 1] = 'idem_key'; f[#f + 1] = idem end
if status == 'delayed' then
	f[#f + 1] = 'due_at'; f[#f + 1] = int(due)
else
	f[#f + 1] = 'ready_at'; f[#f + 1] = int(now)
end
redis.call('HSET', tkey, unpack(f))

if idem ~= '' then
	redis.call('SET', P .. 'idem:' .. idem, id, 'PX', ARGV[8])
end
if status == 'delayed' then
	schedule_delayed(P, Q, id, due, now)
else
	redis.call('RPUSH', P .. 'ready:' .. int(prio), id)
	publish_ready(Q, 1)
end
redis.call('HINCRBY', P .. 'stats', 'enqueued', 1)
return {id, 0, status}
