-- enqueue.lua: add N tasks to queue Q (or return the task an idempotency
-- key already names), N >= 1: one script call for a whole batch of one
-- queue, so that a bulk enqueue pays the per-call cost once.
--
-- KEYS[1]  codeq:{Q}:seq        (every other key is built here with the
--                                same {Q} hash tag: one slot per queue)
-- ARGV     1 Q, then per task 9 arguments (task i from 2 + 9 (i - 1)):
--          payload (JSON)  priority 0-9  delay_ms  at_ms (0: unset)
--          max_attempts  idempotency key ('' none)  idempotency TTL ms
--          webhook URL ('' none)  traceparent ('' none)
-- Pre:     Q valid, payloads valid JSON within the size limit (checked by
--          the client).
-- Post:    per task, unless refused: new hash codeq:{Q}:t:SEQ; id in
--          ready:P (due now) or delayed (due later); idempotency key set
--          with its TTL.  Then stats.enqueued + the tasks added; one
--          PUBLISH codeq:ready "Q n" for the n that are ready; PUBLISH
--          codeq:delayed "Q WAIT_MS" when a delayed one is due before
--          every other delayed task of Q.  A task whose arguments are
--          malformed is refused before any write of its own; the others
--          are added.
-- Returns  one task: {id, duplicate 0|1, status}, or its refusal as the
--          error reply; N tasks: an array of N such replies (a refusal as
--          an error element).
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()
local FIELDS = 9

local n = (#ARGV - 1) / FIELDS
if n < 1 or n % 1 ~= 0 then
	return redis.error_reply('INVAL enqueue: ' .. (#ARGV - 1) ..
		' task arguments, not a multiple of ' .. FIELDS)
end
local out, added, ready = {}, 0, 0
for i = 1, n do
	local b = 2 + FIELDS * (i - 1)
	local payload, prio, delay, at = ARGV[b], tonumber(ARGV[b + 1]),
		tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
	local maxatt, idem, ttl = ARGV[b + 4], ARGV[b + 5], ARGV[b + 6]
	local webhook, traceparent = ARGV[b + 7], ARGV[b + 8]
	local prev = nil
	-- Every argument of a task is checked before its first write: a Lua
	-- error after a write would leave that write in place (scripts do
	-- not roll back).
	if prio == nil or prio < 0 or prio > 9 or prio % 1 ~= 0 then
		out[i] = redis.error_reply('INVAL priority: must be 0-9, got ' ..
			ARGV[b + 1])
	elseif delay == nil or at == nil or tonumber(maxatt) == nil or
	    (idem ~= '' and tonumber(ttl) == nil) then
		out[i] = redis.error_reply('INVAL enqueue: malformed numeric argument')
	elseif idem ~= '' then
		prev = redis.call('GET', P .. 'idem:' .. idem)
	end
	if prev then
		out[i] = {prev, 1,
			redis.call('HGET', task_key(P, prev), 'status') or 'expired'}
	elseif not out[i] then
		local due = now + delay
		if at > 0 then due = at end
		local status = 'ready'
		if due > now then status = 'delayed' end
		local seq = redis.call('INCR', KEYS[1])
		local id = Q .. ':' .. int(seq)
		-- One HSET with every field (the hot path of bulk enqueues).
		local f = {'id', id, 'queue', Q, 'payload', payload,
			'priority', int(prio), 'status', status, 'attempts', '0',
			'max_attempts', maxatt, 'created_at', int(now),
			'updated_at', int(now)}
		if webhook ~= '' then f[#f + 1] = 'webhook'; f[#f + 1] = webhook end
		if traceparent ~= '' then
			f[#f + 1] = 'traceparent'; f[#f + 1] = traceparent
		end
		if idem ~= '' then f[#f + 1] = 'idem_key'; f[#f + 1] = idem end
		if status == 'delayed' then
			f[#f + 1] = 'due_at'; f[#f + 1] = int(due)
		else
			f[#f + 1] = 'ready_at'; f[#f + 1] = int(now)
		end
		redis.call('HSET', P .. 't:' .. int(seq), unpack(f))
		if idem ~= '' then
			redis.call('SET', P .. 'idem:' .. idem, id, 'PX', ttl)
		end
		if status == 'delayed' then
			schedule_delayed(P, Q, id, due, now)
		else
			redis.call('RPUSH', P .. 'ready:' .. int(prio), id)
			ready = ready + 1
		end
		added = added + 1
		out[i] = {id, 0, status}
	end
end
if added > 0 then
	redis.call('HINCRBY', P .. 'stats', 'enqueued', added)
end
publish_ready(Q, ready)
if n == 1 then return out[1] end
return out
