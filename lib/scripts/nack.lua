-- nack.lua: give a leased task back: retry later, or dead-letter it when
-- its attempts are used up.
--
-- KEYS[1]  codeq:{Q}:t:SEQ
-- ARGV     1 Q  2 id  3 token  4 delay_ms (-1: the queue's backoff)
--          5 error text ('' none)  6 random integer 0-999999 (jitter)
-- Pre:     task exists (NOTFOUND), token current (STALE), status leased
--          (STATE).
-- Post:    removed from leased, lease token cleared (the old holder is now
--          refused as STALE), error recorded.  If attempts >= max_attempts:
--          status dead, id appended to codeq:{Q}:dlq, stats.dead_lettered
--          + 1, callback item in the outbox when the task has a webhook.
--          Else: delay = the given one, or
--          min(base * 2^(attempts-1), max) +/- jitter_pct (from
--          codeq:{Q}:conf, defaults 1000 ms, 1 h, 20 %); delay 0 -> ready:P
--          and PUBLISH codeq:ready "Q 1"; delay > 0 -> delayed (score due
--          time); stats.retried + 1.
-- Returns  {new status, delay_ms}
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local function int(n) return string.format('%d', n) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[2]
local tkey = KEYS[1]
if tonumber(ARGV[4]) == nil or tonumber(ARGV[6]) == nil then
	return redis.error_reply('INVAL nack: malformed numeric argument')
end
local f = redis.call('HMGET', tkey, 'status', 'lease_token', 'webhook',
	'attempts', 'traceparent', 'max_attempts', 'priority')
if not f[1] then return redis.error_reply('NOTFOUND task ' .. id) end
if f[2] ~= ARGV[3] then
	return redis.error_reply('STALE lease token ' .. ARGV[3] ..
		' is not the current one of task ' .. id)
end
if f[1] ~= 'leased' then
	return redis.error_reply('STATE task ' .. id .. ' is ' .. f[1])
end
redis.call('ZREM', P .. 'leased', id)
redis.call('HDEL', tkey, 'lease_token', 'lease_until')
redis.call('HSET', tkey, 'error', ARGV[5], 'updated_at', int(now))

local attempts = tonumber(f[4]) or 0
if attempts >= (tonumber(f[6]) or 1) then
	redis.call('HSET', tkey, 'status', 'dead', 'completed_at', int(now))
	redis.call('RPUSH', P .. 'dlq', id)
	redis.call('HINCRBY', P .. 'stats', 'dead_lettered', 1)
	if f[3] and f[3] ~= '' then
		local n = redis.call('INCR', P .. 'cbseq')
		redis.call('HSET', P .. 'cb:' .. int(n), 'task_id', id,
			'url', f[3], 'status', 'dead', 'result', '',
			'error', ARGV[5], 'attempts', f[4] or '0',
			'completed_at', int(now), 'traceparent', f[5] or '',
			'deliveries', '0', 'created_at', int(now))
		redis.call('ZADD', P .. 'outbox', int(now), int(n))
	end
	return {'dead', 0}
end

local delay = tonumber(ARGV[4])
if delay < 0 then
	local c = redis.call('HMGET', P .. 'conf', 'backoff_base_ms',
		'backoff_max_ms', 'jitter_pct')
	local base = tonumber(c[1]) or 1000
	local max = tonumber(c[2]) or 3600000
	local pct = tonumber(c[3]) or 20
	local e = attempts - 1
	if e < 0 then e = 0 end
	if e > 40 then e = 40 end
	delay = math.min(base * 2 ^ e, max)
	delay = math.floor(delay * (1 + pct / 100 * (2 * tonumber(ARGV[6]) / 1e6 - 1)))
	if delay < 0 then delay = 0 end
end
redis.call('HINCRBY', P .. 'stats', 'retried', 1)
if delay == 0 then
	redis.call('HSET', tkey, 'status', 'ready', 'ready_at', int(now))
	redis.call('RPUSH', P .. 'ready:' .. (f[7] or '0'), id)
	redis.call('PUBLISH', 'codeq:ready', Q .. ' 1')
	return {'ready', 0}
end
redis.call('HSET', tkey, 'status', 'delayed', 'due_at', int(now + delay))
redis.call('ZADD', P .. 'delayed', int(now + delay), id)
return {'delayed', delay}
