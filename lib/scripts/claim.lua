-- claim.lua: lease up to N ready tasks of queue Q.
--
-- KEYS[1]  codeq:{Q}:leased
-- ARGV     1 Q  2 lease_ms  3 worker name  4 N (max tasks)  5 promote limit
-- Pre:     none (an empty queue returns an empty array).
-- Post:    due delayed tasks (up to the promote limit) moved to their ready
--          lists first; then, highest priority first and FIFO within a
--          priority, up to N ids popped from ready:P and added to leased
--          (score = lease expiry); each task gets a fresh lease token
--          (the next of codeq:{Q}:fence, which ends at the last one
--          issued), attempts + 1, status leased;
--          stats.claimed + n.  Ids whose hash is missing or whose status is
--          not "ready" are dropped from the list (fsck reports such damage).
--          When n > 0, codeq:{Q}:claim:<worker> holds "id token ..." of
--          this batch for lease_ms: a supervisor gives back at once what
--          a worker that died claimed before it could say so.
-- Returns  array of tasks, each the task hash as a flat field/value array.
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()
local lease = tonumber(ARGV[2])
local want = tonumber(ARGV[4])
if lease == nil or want == nil or tonumber(ARGV[5]) == nil then
	return redis.error_reply('INVAL claim: malformed numeric argument')
end

-- Promote due delayed tasks so that they compete by priority.
local promoted = promote_due(P, P .. 'delayed', now, tonumber(ARGV[5]))

local out, held, scores = {}, {}, {}
local until_ms, now_s = int(now + lease), int(now)
-- Tokens continue the queue's counter; it is written once, at the end
-- (the script is atomic: nobody sees it in between).
local fence = tonumber(redis.call('GET', P .. 'fence') or '0')
for prio = 9, 0, -1 do
	local list = P .. 'ready:' .. prio
	-- As many ids as are still wanted in one LPOP; again when some of
	-- them were not claimable, so that a lower priority waits its turn.
	while #out < want do
		local ids = redis.call('LPOP', list, want - #out)
		if not ids then break end
		for _, id in ipairs(ids) do
			local tkey = task_key(P, id)
			-- The whole hash is read once: it is the reply, with the
			-- fields this claim writes set in it as in the store.
			local h = redis.call('HGETALL', tkey)
			local at = {}
			for k = 1, #h, 2 do at[h[k]] = k + 1 end
			if at.status and h[at.status] == 'ready' then
				fence = fence + 1
				local token = int(fence)
				local set = {'status', 'leased',
					'attempts', int(tonumber(h[at.attempts] or '0') + 1),
					'lease_token', token, 'lease_until', until_ms,
					'worker', ARGV[3], 'updated_at', now_s}
				redis.call('HSET', tkey, unpack(set))
				set_fields(h, at, set)
				out[#out + 1] = h
				held[#held + 1] = id .. ' ' .. token
				scores[#scores + 1] = until_ms
				scores[#scores + 1] = id
			end
		end
	end
	if #out >= want then break end
end
if #out > 0 then
	call_list('ZADD', KEYS[1], scores)
	redis.call('SET', P .. 'fence', int(fence))
	redis.call('HINCRBY', P .. 'stats', 'claimed', #out)
	redis.call('SET', P .. 'claim:' .. ARGV[3], table.concat(held, ' '),
		'PX', int(lease))
end
publish_ready(Q, promoted - #out)
return out
