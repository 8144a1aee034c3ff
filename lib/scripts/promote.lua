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
local now = now_ms()
local n = promote_due(P, KEYS[1], now, tonumber(ARGV[2]))
publish_ready(Q, n)
return n
