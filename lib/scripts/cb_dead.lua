-- cb_dead.lua: deliveries failed for good (permanent error or last
-- attempt): move the items to the callbacks' dead-letter queue.
--
-- KEYS[1]  codeq:{Q}:outbox
-- ARGV     1 Q  2 last_status  3 last_error  4.. pairs: item number, the
--          lease U cb_take returned with it
-- Pre:     none; an item that is gone or whose score is not U (another
--          sender took it after this one's lease ran out, see cb_take)
--          is left alone.
-- Post:    each other item removed from the outbox, appended to
--          codeq:{Q}:cbdlq; its failed delivery counted (deliveries + 1);
--          its hash keeps last_status, last_error and dead_at for the
--          operator.
-- Returns  the number of items moved
local P = 'codeq:{' .. ARGV[1] .. '}:'
local now = now_ms()
local moved = 0
for i = 4, #ARGV - 1, 2 do
	local n = ARGV[i]
	local key = P .. 'cb:' .. n
	if tonumber(redis.call('ZSCORE', KEYS[1], n)) == tonumber(ARGV[i + 1])
	then
		redis.call('ZREM', KEYS[1], n)
		if redis.call('EXISTS', key) == 1 then
			redis.call('RPUSH', P .. 'cbdlq', n)
			redis.call('HINCRBY', key, 'deliveries', 1)
			redis.call('HSET', key, 'last_status', ARGV[2],
				'last_error', ARGV[3], 'dead_at', int(now))
		end
		moved = moved + 1
	end
end
return moved
