#!/bin/sh
# tests/storage/shards.sh: libcodeq over independent stores (shards), two
# and three redis-servers, with an explicit shard map and with hashing
# (tests/storage/shards_check does the calls): each queue's keys are on
# its store only and the registry on the home; claim, complete, nack,
# reap, stats, get and fsck across stores; pipelined batches mixing
# stores; a shard down fails its queues only, naming it, and works again
# once back; connecting with a shard down is an error naming it.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
skip_on_kvrocks "three private stores"
CHECK="$top_builddir/tests/storage/shards_check"

PORTS="" DIRS="" PIDS=""
for i in 0 1 2; do
	start_redis
	PORTS="$PORTS $REDIS_PORT" DIRS="$DIRS $REDIS_DIR" PIDS="$PIDS $REDIS_PID"
done
nth() { shift "$1"; echo "$1"; }		# nth N WORDS...: word N (1..)
urls() { for p in "$@"; do printf 'redis://127.0.0.1:%s/0 ' "$p"; done; }

# placement FILE PORTS...: every queue's keys on its store only; the
# registry on the home only.
placement() {
	file=$1; shift
	while read -r q store name; do
		own=$(nth $((store + 1)) "$@")
		for p in "$@"; do
			n=$(redis-cli -p "$p" --scan --pattern "codeq:{$q}:*" | wc -l)
			if [ "$p" = "$own" ]; then
				[ "$n" -gt 0 ] || fail "$q: no keys on its store $name"
			else
				[ "$n" -eq 0 ] || fail "$q: $n keys on port $p, not its store $name"
			fi
		done
	done <"$file"
	assert_eq "registry on the home" 31 "$(redis-cli -p "$1" scard codeq:queues)"
	shift
	for p in "$@"; do
		assert_eq "no registry on $p" 0 "$(redis-cli -p "$p" exists codeq:queues)"
	done
}

# run MODE PORTS...
run() {
	mode=$1; shift
	for p in $PORTS; do redis-cli -p "$p" flushall >/dev/null; done
	"$CHECK" "$mode" fill $(urls "$@") >"$T_DIR/placement" || fail "$mode fill on $#"
	placement "$T_DIR/placement" "$@"
	used=$(awk '{print $2}' "$T_DIR/placement" | sort -u | wc -l)
	assert_eq "$mode over $# stores: stores used" "$#" "$used"
	"$CHECK" "$mode" work $(urls "$@") || fail "$mode work on $#"
	ok "$mode over $# stores: claim, complete, nack, reap, stats, fsck"
}

run map $(nth 1 $PORTS) $(nth 2 $PORTS)
run map $PORTS
run hash $(nth 1 $PORTS) $(nth 2 $PORTS)
run hash $PORTS

# Shard b (the second store) down: a0 is on it (map mode).
REDIS_PORT=$(nth 2 $PORTS) REDIS_PID=$(nth 2 $PIDS) REDIS_DIR=$(nth 2 $DIRS)
SHARDS_STOPPED="$T_DIR/stopped" SHARDS_RESUME="$T_DIR/resume" \
	"$CHECK" map down a0 $(urls $PORTS) >"$T_DIR/down.out" 2>"$T_DIR/down.log" &
CHECK_PID=$!
wait_for 10 grep -q '^connected' "$T_DIR/down.out" || { cat "$T_DIR/down.log"; fail "connect"; }
stop_redis
touch "$T_DIR/stopped"
wait_for 10 grep -q '^down:' "$T_DIR/down.out" || { cat "$T_DIR/down.log"; fail "shard down"; }
ok "$(grep "^down:" "$T_DIR/down.out") in the messages of its queues; the other stores work"
out=$("$CHECK" map refused $(urls $PORTS)) || fail "connect with a shard down"
ok "$out"
restart_redis
touch "$T_DIR/resume"
wait "$CHECK_PID" || { cat "$T_DIR/down.log"; fail "shard back"; }
ok "$(tail -n 1 "$T_DIR/down.out") on the same connection"
