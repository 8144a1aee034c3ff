-- cb_retry.lua: deliveries failed and may be retried later, or the
-- sender gives items back unsent (release).
--
-- KEYS[1]  codeq:{Q}:outbox
-- ARGV     1 Q  2 lease token  3 last_status  4 last_error  5 '1' when the
--          deliveries never happened (the sender released the items on
--          shutdown: not counted)  6.. pairs: item number, delay_ms
-- Pre:     none; an item that is gone or whose lease is not the token
--          (another sender took it after this one's lease ran out) is
--          left alone.
-- Post:    each other item due again at now + its delay, lease removed;
--          last_status, last_error recorded (a release instead gives the
--          delivery back).
-- Returns  the number of items rescheduled
local P = 'codeq:{' .. ARGV[1] .. '}:'
local now = now_ms()
local moved = 0
for i = 6, #ARGV - 1, 2 do
	local n = ARGV[i]
	local key = P .. 'cb:' .. n
	if redis.call('HGET', key, 'lease') == ARGV[2] then
		redis.call('ZADD', KEYS[1], int(now + tonumber(ARGV[i + 1])), n)
		redis.call('HDEL', key, 'lease')
		if ARGV[5] == '1' then
			redis.call('HINCRBY', key, 'deliveries', -1)
		else
			redis.call('HSET', key, 'last_status', ARGV[3],
				'last_error', ARGV[4])
		end
		moved = moved + 1
	end
end
return moved
