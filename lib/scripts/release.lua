-- release.lua: give a leased task back without counting the attempt
-- (graceful give-back: a drain past shutdown_timeout, prefetched tasks a
-- stopping worker never started, a pool restarted by a reload).  A
-- worker that died gives its task back with nack instead: that attempt
-- counts.
--
-- KEYS[1]  codeq:{Q}:t:SEQ
-- ARGV     1 Q  2 id  3 token  4 reason ('' none)
-- Pre:     task exists (NOTFOUND), token current (STALE), status leased
--          (STATE).
-- Post:    removed from leased, lease token and expiry cleared (the old
--          holder is now refused as STALE), attempts - 1 (the claim's
--          count refunded; never below 0), error = the reason, status
--          ready, id pushed at the HEAD of ready:P (it was claimed before
--          everything still waiting there), ready_at kept (the task has
--          been waiting since then), stats.released + 1, PUBLISH
--          codeq:ready "Q 1".  Never dead-letters, never delays.
-- Returns  the attempts now recorded
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()
local id = ARGV[2]
local tkey = KEYS[1]
local f = redis.call('HMGET', tkey, 'status', 'lease_token', 'attempts',
	'priority')
local refused = lease_refusal(f[1], f[2], id, ARGV[3])
if refused then return refused end
local attempts = (tonumber(f[3]) or 0) - 1
if attempts < 0 then attempts = 0 end
redis.call('ZREM', P .. 'leased', id)
redis.call('HDEL', tkey, 'lease_token', 'lease_until')
redis.call('HSET', tkey, 'status', 'ready', 'attempts', int(attempts),
	'error', ARGV[4] or '', 'updated_at', int(now))
redis.call('LPUSH', P .. 'ready:' .. (f[4] or '0'), id)
redis.call('HINCRBY', P .. 'stats', 'released', 1)
publish_ready(Q, 1)
return attempts
