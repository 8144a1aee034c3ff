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
local now_s = int(now)
local FIELDS = 9

local n = (#ARGV - 1) / FIELDS
if n < 1 or n % 1 ~= 0 then
	return redis.error_reply('INVAL enqueue: ' .. (#ARGV - 1) ..
		' task arguments, not a multiple of ' .. FIELDS)
end
-- First pass, before any write: every argument of every task checked (a
-- Lua error after a write would leave that write in place: scripts do
-- not roll back) and the idempotency keys looked up, so that the new
-- tasks take their numbers in one INCRBY.  A key given twice in the batch
-- names the first task that has it.
local out, new, idem_of = {}, {}, {}
for i = 1, n do
	local b = 2 + FIELDS * (i - 1)
	local prio, delay, at = tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]),
		tonumber(ARGV[b + 3])
	local idem, ttl = ARGV[b + 5], ARGV[b + 6]
	if prio == nil or prio < 0 or prio > 9 or prio % 1 ~= 0 then
		out[i] = redis.error_reply('INVAL priority: must be 0-9, got ' ..
			ARGV[b + 1])
	elseif delay == nil or at == nil or tonumber(ARGV[b + 4]) == nil or
	    (idem ~= '' and tonumber(ttl) == nil) then
		out[i] = redis.error_reply('INVAL enqueue: malformed numeric argument')
	elseif idem ~= '' and idem_of[idem] then
		out[i] = idem_of[idem]
	else
		local prev = idem ~= '' and redis.call('GET', P .. 'idem:' .. idem)
		if prev then
			out[i] = {prev, 1,
				redis.call('HGET', task_key(P, prev), 'status') or 'expired'}
		else
			new[#new + 1] = i
		end
		if idem ~= '' then idem_of[idem] = out[i] or i end
	end
end
-- Second pass: the new tasks, numbered after the queue's last.
local seq = #new > 0 and redis.call('INCRBY', KEYS[1], #new) - #new or 0
local ready = {}
for _, i in ipairs(new) do
	local b = 2 + FIELDS * (i - 1)
	local payload, prio, delay, at = ARGV[b], tonumber(ARGV[b + 1]),
		tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3])
	local maxatt, idem, ttl = ARGV[b + 4], ARGV[b + 5], ARGV[b + 6]
	local webhook, traceparent = ARGV[b + 7], ARGV[b + 8]
	local due = now + delay
	if at > 0 then due = at end
	local status = 'ready'
	if due > now then status = 'delayed' end
	seq = seq + 1
	local id = Q .. ':' .. int(seq)
	-- One HSET with every field (the hot path of bulk enqueues).
	local f = {'id', id, 'queue', Q, 'payload', payload,
		'priority', int(prio), 'status', status, 'attempts', '0',
		'max_attempts', maxatt, 'created_at', now_s, 'updated_at', now_s}
	if webhook ~= '' then f[#f + 1] = 'webhook'; f[#f + 1] = webhook end
	if traceparent ~= '' then
		f[#f + 1] = 'traceparent'; f[#f + 1] = traceparent
	end
	if idem ~= '' then f[#f + 1] = 'idem_key'; f[#f + 1] = idem end
	if status == 'delayed' then
		f[#f + 1] = 'due_at'; f[#f + 1] = int(due)
	else
		f[#f + 1] = 'ready_at'; f[#f + 1] = now_s
	end
	redis.call('HSET', P .. 't:' .. int(seq), unpack(f))
	if idem ~= '' then
		redis.call('SET', P .. 'idem:' .. idem, id, 'PX', ttl)
	end
	if status == 'delayed' then
		schedule_delayed(P, Q, id, due, now)
	else
		ready[prio] = ready[prio] or {}
		table.insert(ready[prio], id)
	end
	out[i] = {id, 0, status}
end
-- A duplicate within the batch gets the reply of the task it names.
for i = 1, n do
	if type(out[i]) == 'number' then
		out[i] = {out[out[i]][1], 1, out[out[i]][3]}
	end
end
-- The ready ones join their lists in order, one RPUSH per priority.
local nready = 0
for prio, ids in pairs(ready) do
	call_list('RPUSH', P .. 'ready:' .. int(prio), ids)
	nready = nready + #ids
end
if #new > 0 then
	redis.call('HINCRBY', P .. 'stats', 'enqueued', #new)
end
publish_ready(Q, nready)
if n == 1 then return out[1] end
return out
