-- cb_dead.lua: deliveries failed for good (permanent error or last
-- attempt): move the items to the callbacks' dead-letter queue.
--
-- KEYS[1]  codeq:{Q}:outbox
-- ARGV     1 Q  2 lease token  3 last_status  4 last_error  5.. item numbers
-- Pre:     none; an item that is gone or whose lease is not the token
--          (another sender took it after this one's lease ran out) is
--          left alone.
-- Post:    each other item removed from the outbox, appended to
--          codeq:{Q}:cbdlq; its hash keeps last_status, last_error and
--          dead_at for the operator.
-- Returns  the number of items moved
local P = 'codeq:{' .. ARGV[1] .. '}:'
local now = now_ms()
local moved = 0
for i = 5, #ARGV do
	local key = P .. 'cb:' .. ARGV[i]
	if redis.call('HGET', key, 'lease') == ARGV[2] then
		redis.call('ZREM', KEYS[1], ARGV[i])
		redis.call('RPUSH', P .. 'cbdlq', ARGV[i])
		redis.call('HSET', key, 'last_status', ARGV[3], 'last_error',
			ARGV[4], 'dead_at', int(now))
		redis.call('HDEL', key, 'lease')
		moved = moved + 1
	end
end
return moved
