-- fail.lua: fail a leased task permanently (no more attempts).
-- (A non-permanent failure is a nack: libcodeq calls nack.lua.)
--
-- KEYS[1]  codeq:{Q}:t:SEQ
-- ARGV     1 Q  2 id  3 token  4 error text  5 retention_ms
-- Pre:     task exists (NOTFOUND), token current (STALE), status leased
--          (STATE).
-- Post:    removed from leased; status failed, error, completed_at; the
--          hash expires after the retention; stats.failed + 1; callback
--          item in the outbox when the task has a webhook.
-- Returns  1
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local function int(n) return string.format('%d', n) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[2]
if tonumber(ARGV[5]) == nil then
	return redis.error_reply('INVAL fail: malformed retention')
end
local f = redis.call('HMGET', KEYS[1], 'status', 'lease_token', 'webhook',
	'attempts', 'traceparent')
if not f[1] then return redis.error_reply('NOTFOUND task ' .. id) end
if f[2] ~= ARGV[3] then
	return redis.error_reply('STALE lease token ' .. ARGV[3] ..
		' is not the current one of task ' .. id)
end
if f[1] ~= 'leased' then
	return redis.error_reply('STATE task ' .. id .. ' is ' .. f[1])
end
redis.call('ZREM', P .. 'leased', id)
redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[4],
	'completed_at', int(now), 'updated_at', int(now))
redis.call('HDEL', KEYS[1], 'lease_until')
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('HINCRBY', P .. 'stats', 'failed', 1)
if f[3] and f[3] ~= '' then
	local n = redis.call('INCR', P .. 'cbseq')
	redis.call('HSET', P .. 'cb:' .. int(n), 'task_id', id, 'url', f[3],
		'status', 'failed', 'result', '', 'error', ARGV[4],
		'attempts', f[4] or '0', 'completed_at', int(now),
		'traceparent', f[5] or '', 'deliveries', '0',
		'created_at', int(now))
	redis.call('ZADD', P .. 'outbox', int(now), int(n))
end
return 1
