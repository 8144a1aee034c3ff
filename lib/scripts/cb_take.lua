-- cb_take.lua: take due result-callback items of queue Q for sending, no
-- more per endpoint (url) than the sender has room to send.
--
-- KEYS[1]  codeq:{Q}:outbox
-- ARGV     1 Q  2 limit (items in all)  3 visibility_ms  4 room of an
--          endpoint not listed  5 skip_max  6 defer_ms  7 nonce: random
--          hex, new for every call  8.. pairs: an endpoint's url, its room
-- Pre:     none.
-- Post:    the due items (score <= now) are looked at oldest first.  An
--          item whose endpoint has room left is taken, until limit items
--          are: its score is pushed to U = now + visibility.  That is the
--          lease, and U is its fencing token: no other sender takes the
--          item before U, and if this sender dies the item becomes due
--          again by itself; a later take sets a later U (it happens at or
--          after U), so cb_retry and cb_dead, given U, refuse a sender
--          whose lease was taken over.  The item's hash is only read: its
--          deliveries count the failed deliveries, written when one fails.
--          The endpoint's room - 1.  An item whose endpoint has no room is
--          left alone (not leased: another sender may take it); after
--          skip_max such items the look stops, and if nothing at all was
--          taken those skipped items are due again at now + defer_ms, so
--          that an endpoint with a deep backlog at the head of the outbox
--          does not hide the others' items behind it.  Numbers whose hash
--          is gone are dropped from the outbox.  An item taken for the
--          first time gets its webhook id, field wid = cb_<nonce>_<n>:
--          unique beyond this store (the nonce is random) and kept for
--          every later delivery, replay and restart.
-- Returns  a flat array: the number of due items skipped for want of room,
--          U, then 11 fields per item taken: n task_id url status result
--          error attempts completed_at traceparent delivery (this
--          delivery's number: the failed ones + 1) wid
local Q = ARGV[1]
local P = 'codeq:{' .. Q .. '}:'
local now = now_ms()
local limit = tonumber(ARGV[2])
local until_ms = int(now + tonumber(ARGV[3]))
local room_default = tonumber(ARGV[4])
local skip_max = tonumber(ARGV[5])
-- full: some endpoint has no room left.  Until then every item looked
-- at is taken, so its fields are read in one call; after, an item's url
-- is read first so that a skipped item costs one small read.
local room, full = {}, room_default <= 0
local nonce = ARGV[7]
for i = 8, #ARGV - 1, 2 do
	local r = tonumber(ARGV[i + 1])
	room[ARGV[i]] = r
	if r <= 0 then full = true end
end
local out, nout, skipped, taken, leased, nleased = { 0, until_ms }, 2, {}, 0,
	{}, 0
local function read(key)
	return redis.call('HMGET', key, 'task_id', 'url', 'status', 'result',
		'error', 'attempts', 'completed_at', 'traceparent', 'deliveries',
		'wid')
end
local function look(n)
	local key = P .. 'cb:' .. n
	local f
	if full then
		local url = redis.call('HGET', key, 'url')
		if url and (room[url] or room_default) <= 0 then
			room[url] = 0
			skipped[#skipped + 1] = n
			return
		end
		if url then f = read(key) end
	else
		f = read(key)
	end
	if not f or not f[2] then
		redis.call('ZREM', KEYS[1], n)
		return
	end
	local url = f[2]
	local r = (room[url] or room_default) - 1
	room[url] = r
	if r <= 0 then full = true end
	taken = taken + 1
	local d = (tonumber(f[9]) or 0) + 1
	leased[nleased + 1] = until_ms
	leased[nleased + 2] = n
	nleased = nleased + 2
	out[nout + 1] = n
	for i = 1, 8 do out[nout + 1 + i] = f[i] or '' end
	out[nout + 10] = int(d)
	local wid = f[10]
	if not wid then
		wid = 'cb_' .. nonce .. '_' .. n
		redis.call('HSET', key, 'wid', wid)
	end
	out[nout + 11] = wid
	nout = nout + 11
end
-- The items taken leave the due range (their lease) in one ZADD per
-- chunk, before the next chunk is read.
local function lease_taken()
	if nleased > 0 then
		redis.call('ZADD', KEYS[1], unpack(leased, 1, nleased))
		leased, nleased = {}, 0
	end
end
-- Look in chunks: the take is often far smaller than limit.  Items
-- taken or dropped leave the due range; the skipped ones stay at its
-- head, so the next chunk starts after them.
local looked = 0
while taken < limit and #skipped < skip_max and looked < limit + skip_max do
	local ns = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', int(now),
		'LIMIT', #skipped, 128)
	for _, n in ipairs(ns) do
		if taken >= limit or #skipped >= skip_max then break end
		looked = looked + 1
		look(n)
	end
	lease_taken()
	if #ns < 128 then break end
end
if taken == 0 and #skipped >= skip_max then
	local at = int(now + tonumber(ARGV[6]))
	for _, n in ipairs(skipped) do redis.call('ZADD', KEYS[1], at, n) end
end
out[1] = #skipped
return out
