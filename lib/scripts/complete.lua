-- complete.lua: record the result of a leased task.
--
-- KEYS[1]  codeq:{Q}:t:SEQ
-- ARGV     1 Q  2 id  3 token  4 result JSON ('' none)  5 retention_ms
-- Pre:     task exists (NOTFOUND), token current (STALE), status leased
--          (STATE).
-- Post:    removed from leased; status completed, result, completed_at;
--          the hash expires after the retention; stats.completed + 1; if the
--          task has a webhook, a callback item is written to the outbox
--          (codeq:{Q}:cbseq, codeq:{Q}:cb:N, codeq:{Q}:outbox) in this same
--          script (invariant 8).
-- Returns  1
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()
local id = ARGV[2]
if tonumber(ARGV[5]) == nil then
	return redis.error_reply('INVAL complete: malformed retention')
end
local f = redis.call('HMGET', KEYS[1], 'status', 'lease_token', 'webhook',
	'attempts', 'traceparent')
local refused = lease_refusal(f[1], f[2], id, ARGV[3])
if refused then return refused end
finish_terminal(P, KEYS[1], id, now, 'completed', 'result', ARGV[4], ARGV[5])
outbox_add(P, now, id, f[3], 'completed', ARGV[4], '', f[4], f[5])
return 1
