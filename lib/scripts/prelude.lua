-- prelude.lua: helpers shared by every script of lib/scripts.
--
-- A Redis script cannot load another, so the build (lib/embed-scripts.sh)
-- puts the helpers of this file a script calls (and those they call) in
-- front of it: every helper is a closure made each time a script runs, so
-- a script carries only what it uses.  A client of another language may
-- prepend the whole file (`cat lib/scripts/prelude.lua lib/scripts/NAME.lua`):
-- the same behaviour.  See docs/storage.md, "Scripts".
--
-- Rules for this file:
--  - only `local function`s (a script may not create globals), no code
--    that runs on its own: a script calls what it needs, so a helper that
--    reads the clock or writes a key does so only when called;
--  - one block per helper: its comment and its function, no blank line
--    inside, a blank line after (the build cuts the file at blank lines
--    and refuses a block that defines nothing);
--  - a helper uses only helpers defined above it (Lua locals);
--  - every redis.call names its command as a literal (tests/
--    kvrocks_commands.sh checks them against KVRocks' list);
--  - keys are built from P = 'codeq:{Q}:' (the queue's hash tag), so a
--    helper touches the calling script's slot only (invariant 5).

-- An integer as a string without exponent ("1700000000000", not "1.7e+12").
local function int(n) return string.format('%d', n) end

-- The store's clock in Unix milliseconds (invariant 7).
local function now_ms()
	local t = redis.call('TIME')
	return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The task hash of id 'Q:SEQ' (the part after the last ':').
local function task_key(P, id)
	return P .. 't:' .. string.match(id, '[^:]*$')
end

-- Tells idle workers and the notifier that n tasks of Q became ready
-- (advisory pub/sub; nothing is published for n = 0).
local function publish_ready(Q, n)
	if n > 0 then
		redis.call('PUBLISH', 'codeq:ready', Q .. ' ' .. int(n))
	end
end

-- The refusal of the common lease check (heartbeat, complete, fail,
-- nack), or nil when the task is leased with this token: no hash ->
-- NOTFOUND, another token -> STALE, not leased -> STATE.
local function lease_refusal(status, held, id, token)
	if not status then return redis.error_reply('NOTFOUND task ' .. id) end
	if held ~= token then
		return redis.error_reply('STALE lease token ' .. token ..
			' is not the current one of task ' .. id)
	end
	if status ~= 'leased' then
		return redis.error_reply('STATE task ' .. id .. ' is ' .. status)
	end
	return nil
end

-- Writes the result callback of a task that became terminal, in the
-- script that made it so (invariant 8): item number INCR cbseq, hash cb:N,
-- due now in the outbox.  Nothing when the task has no webhook.
local function outbox_add(P, now, id, url, status, result, err, attempts,
		traceparent)
	if not url or url == '' then return nil end
	local n = redis.call('INCR', P .. 'cbseq')
	redis.call('HSET', P .. 'cb:' .. int(n), 'task_id', id, 'url', url,
		'status', status, 'result', result, 'error', err,
		'attempts', attempts or '0', 'completed_at', int(now),
		'traceparent', traceparent or '', 'deliveries', '0',
		'created_at', int(now))
	redis.call('ZADD', P .. 'outbox', int(now), int(n))
	return n
end

-- Calls cmd on key with the elements of list as its further arguments,
-- in slices of 1000 (an even size: score/member pairs stay whole):
-- unpack() is bounded by Lua's C stack.  One call per slice, not per
-- element, so that a batch of tasks costs one command where it can.
local function call_list(cmd, key, list)
	for i = 1, #list, 1000 do
		redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list)))
	end
end

-- Sets in h, a hash as a flat field/value array (HGETALL's reply) whose
-- value of field f is at h[at[f]], what HSET of the field/value array
-- set writes in the store: the reply a script returns after the write,
-- without reading the hash again.
local function set_fields(h, at, set)
	for k = 1, #set, 2 do
		local v = at[set[k]]
		if not v then
			h[#h + 1] = set[k]
			v = #h + 1
		end
		h[v] = set[k + 1]
	end
end

-- Ends the lease of task id (hash tkey) in a terminal status, 'completed'
-- or 'failed', recording field = value (the result or the error):
-- completed_at, the hash expires after retention_ms.  The caller removes
-- the id from leased (once per call for many tasks), adds to the counter
-- stats.<status> and writes the callback item.
local function finish_terminal(tkey, now, status, field, value, retention_ms)
	local now_s = int(now)
	redis.call('HSET', tkey, 'status', status, field, value,
		'completed_at', now_s, 'updated_at', now_s)
	redis.call('HDEL', tkey, 'lease_until')
	redis.call('PEXPIRE', tkey, retention_ms)
end

-- Moves up to limit due ids of the delayed set dkey to their ready lists
-- (status ready); ids without a hash or in another state are dropped.
-- Returns how many became ready (the caller publishes).
local function promote_due(P, dkey, now, limit)
	local due = redis.call('ZRANGEBYSCORE', dkey, '-inf', int(now),
		'LIMIT', 0, limit)
	local n = 0
	for _, id in ipairs(due) do
		redis.call('ZREM', dkey, id)
		local tkey = task_key(P, id)
		local f = redis.call('HMGET', tkey, 'status', 'priority')
		if f[1] == 'delayed' then
			redis.call('HSET', tkey, 'status', 'ready', 'ready_at',
				int(now), 'updated_at', int(now))
			redis.call('HDEL', tkey, 'due_at')
			redis.call('RPUSH', P .. 'ready:' .. (f[2] or '0'), id)
			n = n + 1
		end
	end
	return n
end

-- The queue's backoff settings (codeq:{Q}:conf; absent fields: defaults
-- 1 s base, 1 h cap, 20 % jitter).
local function backoff_conf(P)
	local c = redis.call('HMGET', P .. 'conf', 'backoff_base_ms',
		'backoff_max_ms', 'jitter_pct')
	return { base = tonumber(c[1]) or 1000, max = tonumber(c[2]) or 3600000,
		pct = tonumber(c[3]) or 20 }
end

-- min(base * 2^(attempts-1), max) +/- pct %, from a random 0-999999 the
-- client passed in (scripts stay deterministic); never below 0.
local function backoff_delay(c, attempts, rnd)
	local e = attempts - 1
	if e < 0 then e = 0 end
	if e > 40 then e = 40 end
	local delay = math.min(c.base * 2 ^ e, c.max)
	delay = math.floor(delay * (1 + c.pct / 100 * (2 * rnd / 1e6 - 1)))
	if delay < 0 then delay = 0 end
	return delay
end

-- Puts id in the delayed set of queue Q (prefix P), due at due (ms).  The
-- dispatchers arm one timer for the earliest due task of each queue
-- (dispatcher/promote.c): when this one comes first they are told, on
-- codeq:delayed "Q WAIT_MS".  Only then, so that a bulk of tasks due
-- later costs no message.
local function schedule_delayed(P, Q, id, due, now)
	local first = redis.call('ZRANGE', P .. 'delayed', 0, 0, 'WITHSCORES')
	redis.call('ZADD', P .. 'delayed', int(due), id)
	if not first[2] or tonumber(first[2]) > due then
		redis.call('PUBLISH', 'codeq:delayed', Q .. ' ' .. int(due - now))
	end
end

-- A task whose lease ended without a result and that has attempts left
-- (nack, reap): ready now (delay 0) or delayed; stats.retried + 1.
-- Returns the new status; the caller publishes the ready ones.
local function retry_later(P, Q, tkey, id, prio, delay, now)
	redis.call('HINCRBY', P .. 'stats', 'retried', 1)
	if delay == 0 then
		redis.call('HSET', tkey, 'status', 'ready', 'ready_at', int(now))
		redis.call('RPUSH', P .. 'ready:' .. (prio or '0'), id)
		return 'ready'
	end
	redis.call('HSET', tkey, 'status', 'delayed', 'due_at', int(now + delay))
	schedule_delayed(P, Q, id, now + delay, now)
	return 'delayed'
end

-- A task whose last attempt ended without a result (nack, reap): status
-- dead, appended to the DLQ, stats.dead_lettered + 1, its callback item.
local function dead_letter(P, tkey, id, now, url, err, attempts, traceparent)
	redis.call('HSET', tkey, 'status', 'dead', 'completed_at', int(now))
	redis.call('RPUSH', P .. 'dlq', id)
	redis.call('HINCRBY', P .. 'stats', 'dead_lettered', 1)
	outbox_add(P, now, id, url, 'dead', '', err, attempts, traceparent)
end

