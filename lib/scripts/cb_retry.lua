-- cb_retry.lua: deliveries failed and may be retried later, or the
-- sender gives items back unsent (release).
--
-- KEYS[1]  codeq:{Q}:outbox
-- ARGV     1 Q  2 last_status  3 last_error  4 '1' when the deliveries
--          never happened (the sender released the items on shutdown:
--          not counted)  5.. triples: item number, the lease U cb_take
--          returned with it, delay_ms
-- Pre:     none; an item that is gone or whose score is not U (another
--          sender took it after this one's lease ran out, see cb_take)
--          is left alone.
-- Post:    each other item due again at now + its delay; a failed
--          delivery is counted (deliveries + 1) and last_status,
--          last_error recorded.
-- Returns  the number of items rescheduled
local P = 'codeq:{' .. ARGV[1] .. '}:'
local now = now_ms()
local moved = 0
for i = 5, #ARGV - 2, 3 do
	local n = ARGV[i]
	if tonumber(redis.call('ZSCORE', KEYS[1], n)) == tonumber(ARGV[i + 1])
	then
		local key = P .. 'cb:' .. n
		redis.call('ZADD', KEYS[1], int(now + tonumber(ARGV[i + 2])), n)
		if ARGV[4] ~= '1' and redis.call('EXISTS', key) == 1 then
			redis.call('HINCRBY', key, 'deliveries', 1)
			redis.call('HSET', key, 'last_status', ARGV[2],
				'last_error', ARGV[3])
		end
		moved = moved + 1
	end
end
return moved
