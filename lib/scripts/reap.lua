-- reap.lua: requeue (or dead-letter) tasks of queue Q whose lease expired.
--
-- KEYS[1]  codeq:{Q}:leased
-- ARGV     1 Q  2 limit  3 random integer 0-999999 (jitter seed)
-- Pre:     none.
-- Post:    for up to limit ids of codeq:{Q}:leased with score <= now:
--          removed from leased, lease token cleared (the late holder is
--          refused as STALE), error "lease expired"; then exactly as
--          nack.lua with the queue's backoff: DLQ (+ outbox item when the
--          task has a webhook) when attempts >= max_attempts, else ready
--          (delay 0) or delayed.  Ids without a hash or not "leased" are
--          dropped.  PUBLISH codeq:ready "Q N" for the N made ready.
-- Returns  {reaped, dead_lettered}
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local function int(n) return string.format('%d', n) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(ARGV[2]) == nil or tonumber(ARGV[3]) == nil then
	return redis.error_reply('INVAL reap: malformed numeric argument')
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', int(now),
	'LIMIT', 0, tonumber(ARGV[2]))
local c = redis.call('HMGET', P .. 'conf', 'backoff_base_ms',
	'backoff_max_ms', 'jitter_pct')
local base = tonumber(c[1]) or 1000
local max = tonumber(c[2]) or 3600000
local pct = tonumber(c[3]) or 20
local seed = tonumber(ARGV[3])
local reaped, dead, ready = 0, 0, 0
local err = 'lease expired'
for _, id in ipairs(ids) do
	redis.call('ZREM', KEYS[1], id)
	local tkey = P .. 't:' .. string.match(id, '[^:]*$')
	local f = redis.call('HMGET', tkey, 'status', 'webhook', 'attempts',
		'traceparent', 'max_attempts', 'priority')
	if f[1] == 'leased' then
		reaped = reaped + 1
		redis.call('HDEL', tkey, 'lease_token', 'lease_until')
		redis.call('HSET', tkey, 'error', err, 'updated_at', int(now))
		local attempts = tonumber(f[3]) or 0
		if attempts >= (tonumber(f[5]) or 1) then
			dead = dead + 1
			redis.call('HSET', tkey, 'status', 'dead',
				'completed_at', int(now))
			redis.call('RPUSH', P .. 'dlq', id)
			redis.call('HINCRBY', P .. 'stats', 'dead_lettered', 1)
			if f[2] and f[2] ~= '' then
				local n = redis.call('INCR', P .. 'cbseq')
				redis.call('HSET', P .. 'cb:' .. int(n),
					'task_id', id, 'url', f[2],
					'status', 'dead', 'result', '',
					'error', err, 'attempts', f[3] or '0',
					'completed_at', int(now),
					'traceparent', f[4] or '',
					'deliveries', '0', 'created_at', int(now))
				redis.call('ZADD', P .. 'outbox', int(now), int(n))
			end
		else
			-- A tiny LCG spreads one random seed over the batch.
			seed = (seed * 1103515245 + 12345) % 1000000
			local e = attempts - 1
			if e < 0 then e = 0 end
			if e > 40 then e = 40 end
			local delay = math.min(base * 2 ^ e, max)
			delay = math.floor(delay * (1 + pct / 100 * (2 * seed / 1e6 - 1)))
			redis.call('HINCRBY', P .. 'stats', 'retried', 1)
			if delay <= 0 then
				ready = ready + 1
				redis.call('HSET', tkey, 'status', 'ready',
					'ready_at', int(now))
				redis.call('RPUSH', P .. 'ready:' .. (f[6] or '0'), id)
			else
				redis.call('HSET', tkey, 'status', 'delayed',
					'due_at', int(now + delay))
				redis.call('ZADD', P .. 'delayed', int(now + delay), id)
			end
		end
	end
end
if ready > 0 then redis.call('PUBLISH', 'codeq:ready', Q .. ' ' .. int(ready)) end
return {reaped, dead}
