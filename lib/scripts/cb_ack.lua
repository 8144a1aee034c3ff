-- cb_ack.lua: result callbacks were delivered (2xx): forget the items.
--
-- KEYS[1]  codeq:{Q}:outbox
-- ARGV     1 Q  2.. item numbers (one POST's items of queue Q)
-- Pre:     none (an item delivered under a lease that ran out, and taken
--          again meanwhile, is still delivered: at-least-once).
-- Post:    each item's hash deleted, removed from the outbox.
-- Returns  the number of items that existed
local P = 'codeq:{' .. ARGV[1] .. '}:'
local gone = 0
-- In slices: unpack() is bounded by Lua's C stack (batch_max may be 10000).
for i = 2, #ARGV, 500 do
	local j = math.min(i + 499, #ARGV)
	local keys = {}
	for k = i, j do keys[#keys + 1] = P .. 'cb:' .. ARGV[k] end
	redis.call('ZREM', KEYS[1], unpack(ARGV, i, j))
	gone = gone + redis.call('DEL', unpack(keys))
end
return gone
