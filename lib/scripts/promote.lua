-- promote.lua: move due delayed tasks of queue Q to their ready lists.
--
-- KEYS[1]  codeq:{Q}:delayed
-- ARGV     1 Q  2 limit
-- Pre:     none.
-- Post:    up to limit ids with score <= now leave codeq:{Q}:delayed; each
--          whose hash says "delayed" goes to ready:P (status ready); ids
--          without a hash or in another state are dropped (fsck damage);
--          PUBLISH codeq:ready "Q N" when N > 0 became ready.
-- Returns  {N, wait_ms}: wait_ms until the earliest task still in
--          codeq:{Q}:delayed is due (0: more are due now than limit let
--          through), -1 when none is left.  A wait in the store's clock,
--          not a time, so that the caller can arm a timer with it whatever
--          its own clock says (invariant 7).
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()
local n = promote_due(P, KEYS[1], now, tonumber(ARGV[2]))
publish_ready(Q, n)
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = -1
if first[2] then
	wait = math.max(tonumber(first[2]) - now, 0)
end
return {n, wait}
