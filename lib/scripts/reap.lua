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
--          (delay 0) or delayed (PUBLISH codeq:delayed as nack.lua).  Ids
--          without a hash or not "leased" are dropped.  PUBLISH
--          codeq:ready "Q N" for the N made ready.
-- Returns  {reaped, dead_lettered}
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()
if tonumber(ARGV[2]) == nil or tonumber(ARGV[3]) == nil then
	return redis.error_reply('INVAL reap: malformed numeric argument')
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', int(now),
	'LIMIT', 0, tonumber(ARGV[2]))
local conf = backoff_conf(P)
local seed = tonumber(ARGV[3])
local reaped, dead, ready = 0, 0, 0
local err = 'lease expired'
for _, id in ipairs(ids) do
	redis.call('ZREM', KEYS[1], id)
	local tkey = task_key(P, id)
	local f = redis.call('HMGET', tkey, 'status', 'webhook', 'attempts',
		'traceparent', 'max_attempts', 'priority')
	if f[1] == 'leased' then
		reaped = reaped + 1
		redis.call('HDEL', tkey, 'lease_token', 'lease_until')
		redis.call('HSET', tkey, 'error', err, 'updated_at', int(now))
		local attempts = tonumber(f[3]) or 0
		if attempts >= (tonumber(f[5]) or 1) then
			dead = dead + 1
			dead_letter(P, tkey, id, now, f[2], err, f[3], f[4])
		else
			-- A tiny LCG spreads one random seed over the batch.
			seed = (seed * 1103515245 + 12345) % 1000000
			local delay = backoff_delay(conf, attempts, seed)
			if retry_later(P, Q, tkey, id, f[6], delay, now) == 'ready' then
				ready = ready + 1
			end
		end
	end
end
publish_ready(Q, ready)
return {reaped, dead}
