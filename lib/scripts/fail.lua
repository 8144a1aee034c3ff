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
local now = now_ms()
local id = ARGV[2]
if tonumber(ARGV[5]) == nil then
	return redis.error_reply('INVAL fail: malformed retention')
end
local f = redis.call('HMGET', KEYS[1], 'status', 'lease_token', 'webhook',
	'attempts', 'traceparent')
local refused = lease_refusal(f[1], f[2], id, ARGV[3])
if refused then return refused end
redis.call('ZREM', P .. 'leased', id)
finish_terminal(KEYS[1], now, 'failed', 'error', ARGV[4], ARGV[5])
redis.call('HINCRBY', P .. 'stats', 'failed', 1)
outbox_add(P, now, id, f[3], 'failed', '', ARGV[4], f[4], f[5])
return 1
