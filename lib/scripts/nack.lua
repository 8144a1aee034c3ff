-- nack.lua: give a leased task back: retry later, or dead-letter it when
-- its attempts are used up.
--
-- KEYS[1]  codeq:{Q}:t:SEQ
-- ARGV     1 Q  2 id  3 token  4 delay_ms (-1: the queue's backoff)
--          5 error text ('' none)  6 random integer 0-999999 (jitter)
--          7 (optional) max attempts of the worker pool: when > 0 and
--            below the task's own max_attempts, it is the limit
-- Pre:     task exists (NOTFOUND), token current (STALE), status leased
--          (STATE).
-- Post:    removed from leased, lease token cleared (the old holder is now
--          refused as STALE), error recorded.  If attempts >= max_attempts
--          (or >= ARGV[7], the pool's cap):
--          status dead, id appended to codeq:{Q}:dlq, stats.dead_lettered
--          + 1, callback item in the outbox when the task has a webhook.
--          Else: delay = the given one, or
--          min(base * 2^(attempts-1), max) +/- jitter_pct (from
--          codeq:{Q}:conf, defaults 1000 ms, 1 h, 20 %); delay 0 -> ready:P
--          and PUBLISH codeq:ready "Q 1"; delay > 0 -> delayed (score due
--          time; PUBLISH codeq:delayed "Q DELAY_MS" when due before every
--          other delayed task of Q); stats.retried + 1.
-- Returns  {new status, delay_ms}
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()
local id = ARGV[2]
local tkey = KEYS[1]
if tonumber(ARGV[4]) == nil or tonumber(ARGV[6]) == nil then
	return redis.error_reply('INVAL nack: malformed numeric argument')
end
local f = redis.call('HMGET', tkey, 'status', 'lease_token', 'webhook',
	'attempts', 'traceparent', 'max_attempts', 'priority')
local refused = lease_refusal(f[1], f[2], id, ARGV[3])
if refused then return refused end
redis.call('ZREM', P .. 'leased', id)
redis.call('HDEL', tkey, 'lease_token', 'lease_until')
redis.call('HSET', tkey, 'error', ARGV[5], 'updated_at', int(now))

local attempts = tonumber(f[4]) or 0
local max = tonumber(f[6]) or 1
local cap = tonumber(ARGV[7] or '')
if cap and cap > 0 and cap < max then max = cap end
if attempts >= max then
	dead_letter(P, tkey, id, now, f[3], ARGV[5], f[4], f[5])
	return {'dead', 0}
end

local delay = tonumber(ARGV[4])
if delay < 0 then
	delay = backoff_delay(backoff_conf(P), attempts, tonumber(ARGV[6]))
end
if retry_later(P, Q, tkey, id, f[7], delay, now) == 'ready' then
	publish_ready(Q, 1)
	return {'ready', 0}
end
return {'delayed', delay}
