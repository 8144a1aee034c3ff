-- heartbeat.lua: extend the lease of a task still held with the current
-- token.
--
-- KEYS[1]  codeq:{Q}:t:SEQ (the task hash)
-- ARGV     1 Q  2 id  3 token  4 lease_ms
-- Pre:     the task exists (else NOTFOUND), carries this token (else STALE:
--          someone claimed it since, or it was requeued) and is leased (else
--          STATE).
-- Post:    lease_until = now + lease_ms, in the hash and as the score in
--          codeq:{Q}:leased.
-- Returns  the new lease expiry (ms).
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()
local f = redis.call('HMGET', KEYS[1], 'status', 'lease_token')
local refused = lease_refusal(f[1], f[2], ARGV[2], ARGV[3])
if refused then return refused end
local until_ms = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'lease_until', int(until_ms), 'updated_at', int(now))
redis.call('ZADD', P .. 'leased', int(until_ms), ARGV[2])
return until_ms
