-- complete.lua: record the results of N leased tasks of queue Q (N >= 1):
-- one script call for a worker's or a client's whole batch.
--
-- KEYS     codeq:{Q}:t:SEQ of each task, in order
-- ARGV     1 Q, then per task 4 arguments (task i from 2 + 4 (i - 1)):
--          id  token  result JSON ('' none)  retention_ms
-- Pre:     per task: exists (NOTFOUND), token current (STALE), status
--          leased (STATE); a task refused is left as it is.
-- Post:    per task: removed from leased; status completed, result,
--          completed_at; the hash expires after the retention; if the
--          task has a webhook, a callback item
--          is written to the outbox (codeq:{Q}:cbseq, codeq:{Q}:cb:N,
--          codeq:{Q}:outbox) in this same script (invariant 8).  Then
--          the completed ids leave leased, and stats.completed + the
--          tasks completed, one write each.
-- Returns  one task: 1, or its refusal as the error reply; N tasks: an
--          array of N such replies (a refusal as an error element).
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local n = #KEYS
if n < 1 or #ARGV ~= 1 + 4 * n then
	return redis.error_reply('INVAL complete: ' .. n .. ' keys and ' ..
		(#ARGV - 1) .. ' task arguments, not 4 per key')
end
local now = now_ms()
local out, done, ended = {}, 0, {}
for i = 1, n do
	local b = 2 + 4 * (i - 1)
	local id, token, result, retention = ARGV[b], ARGV[b + 1], ARGV[b + 2],
		ARGV[b + 3]
	if tonumber(retention) == nil then
		out[i] = redis.error_reply('INVAL complete: malformed retention')
	else
		local f = redis.call('HMGET', KEYS[i], 'status', 'lease_token',
			'webhook', 'attempts', 'traceparent')
		out[i] = lease_refusal(f[1], f[2], id, token)
		if not out[i] then
			finish_terminal(KEYS[i], now, 'completed', 'result', result,
				retention)
			ended[#ended + 1] = id
			outbox_add(P, now, id, f[3], 'completed', result, '', f[4], f[5])
			out[i] = 1
			done = done + 1
		end
	end
end
if done > 0 then
	call_list('ZREM', P .. 'leased', ended)
	redis.call('HINCRBY', P .. 'stats', 'completed', done)
end
if n == 1 then return out[1] end
return out
