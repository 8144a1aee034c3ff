-- cb_dlq_purge.lua: delete dead-lettered result callbacks.
--
-- KEYS[1]  codeq:{Q}:cbdlq
-- ARGV     1 Q  2 item number, or '' for all
-- Pre:     none.
-- Post:    the item (or every item) removed from the DLQ, its hash deleted.
-- Returns  the number of items purged
local P = 'codeq:{' .. ARGV[1] .. '}:'
local ns
if ARGV[2] ~= '' then
	if redis.call('LREM', KEYS[1], 0, ARGV[2]) == 0 then return 0 end
	ns = { ARGV[2] }
else
	ns = redis.call('LRANGE', KEYS[1], 0, -1)
	redis.call('DEL', KEYS[1])
end
for _, n in ipairs(ns) do redis.call('DEL', P .. 'cb:' .. n) end
return #ns
