-- promote.lua: move due delayed tasks of queue Q to their ready lists.
--
-- KEYS[1]  codeq:{Q}:delayed
-- ARGV     1 Q  2 limit
-- Pre:     none.
-- Post:    up to limit ids with score <= now leave codeq:{Q}:delayed; each
--          whose hash says "delayed" goes to ready:P (status ready); ids
--          without a hash or in another state are dropped (fsck damage);
--          PUBLISH codeq:ready "Q N" when N > 0 became ready.
-- Returns  N
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local function int(n) return string.format('%d', n) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', int(now),
	'LIMIT', 0, tonumber(ARGV[2]))
local n = 0
for _, id in ipairs(due) do
	redis.call('ZREM', KEYS[1], id)
	local tkey = P .. 't:' .. string.match(id, '[^:]*$')
	local f = redis.call('HMGET', tkey, 'status', 'priority')
	if f[1] == 'delayed' then
		redis.call('HSET', tkey, 'status', 'ready', 'ready_at', int(now),
			'updated_at', int(now))
		redis.call('HDEL', tkey, 'due_at')
		redis.call('RPUSH', P .. 'ready:' .. (f[2] or '0'), id)
		n = n + 1
	end
end
if n > 0 then redis.call('PUBLISH', 'codeq:ready', Q .. ' ' .. int(n)) end
return n
