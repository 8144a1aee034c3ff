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
local function int(n) return string.format('%d', n) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HMGET', KEYS[1], 'status', 'lease_token')
if not f[1] then return redis.error_reply('NOTFOUND task ' .. ARGV[2]) end
if f[2] ~= ARGV[3] then
	return redis.error_reply('STALE lease token ' .. ARGV[3] ..
		' is not the current one of task ' .. ARGV[2])
end
if f[1] ~= 'leased' then
	return redis.error_reply('STATE task ' .. ARGV[2] .. ' is ' .. f[1])
end
local until_ms = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'lease_until', int(until_ms), 'updated_at', int(now))
redis.call('ZADD', P .. 'leased', int(until_ms), ARGV[2])
return until_ms
