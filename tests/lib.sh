# tests/lib.sh - shared helpers for the shell integration tests.
#
# Source it from a test: it makes a private scratch directory, finds free
# loopback ports, starts a private redis-server (never the system one) and
# tears everything down on exit.  Tests print what they check and exit 0
# (pass), 77 (skip) or anything else (fail), as automake's harness expects.

set -eu

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${REDIS_SERVER:=$(command -v redis-server || true)}"
: "${PYTHON3:=$(command -v python3 || true)}"

CODEQ="$top_builddir/codeq"
CODEQD="$top_builddir/codeqd"
T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/codeq-$T_NAME.XXXXXX")
T_PIDS=""

t_cleanup() {
	status=$?
	for p in $T_PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $T_PIDS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
		kill -KILL "$p" 2>/dev/null || true
	done
	if [ $status -ne 0 ] && [ -d "$T_DIR" ]; then
		for f in "$T_DIR"/*.log; do
			[ -f "$f" ] || continue
			echo "---- tail of $f"; tail -n 40 "$f"
		done
	fi
	rm -rf "$T_DIR"
	exit $status
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
ok() { echo "ok - $*"; }

# Track a background pid for cleanup.
t_track() { T_PIDS="$T_PIDS $1"; }

# Print a free TCP port on 127.0.0.1 (bound then released; callers retry
# if they lose the race).
free_port() {
	"$PYTHON3" -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
	limit=$1; shift
	end=$(( $(date +%s) + limit ))
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# redis_ready N: our redis-server logged its Nth "Ready to accept
# connections".  A ping is not enough: free_port's port can be handed to
# two tests running in parallel, and the one whose server cannot bind
# would be answered by the other test's server.
redis_ready() {
	n=$(grep -c 'Ready to accept connections' "$T_DIR/redis.log" 2>/dev/null || true)
	[ "${n:-0}" -ge "$1" ]
}
redis_ready_or_gone() { redis_ready "$1" || ! kill -0 "$REDIS_PID" 2>/dev/null; }

# The store the tests run on: redis-server, or KVRocks when
# CODEQ_TEST_STORE=kvrocks and CODEQ_TEST_KVROCKS names its binary
# (./test runs the suite a second time that way).
on_kvrocks() { [ "${CODEQ_TEST_STORE:-redis}" = kvrocks ]; }

# skip_on_kvrocks WHY: this test needs something KVRocks does not have.
skip_on_kvrocks() { if on_kvrocks; then skip "not on KVRocks: $*"; fi; }

# The store's server process, with the arguments of the store in use.
# Both log "Ready to accept connections" to $T_DIR/redis.log.
store_server() {
	if on_kvrocks; then
		"$CODEQ_TEST_KVROCKS" --bind 127.0.0.1 --port "$REDIS_PORT" \
			--dir "$REDIS_DIR" --workers 2 --log-dir stdout \
			--rocksdb.write_buffer_size 16 \
			--rocksdb.block_cache_size 16 "$@" >>"$T_DIR/redis.log" 2>&1 &
	else
		"$REDIS_SERVER" --bind 127.0.0.1 --port "$REDIS_PORT" \
			--dir "$REDIS_DIR" --save '' --appendonly yes \
			--appendfsync everysec --daemonize no \
			--logfile "$T_DIR/redis.log" "$@" &
	fi
	REDIS_PID=$!
}

# Start a private store (redis-server or KVRocks, above); sets
# REDIS_PORT, REDIS_PID, REDIS_URL.  redis-server keeps an AOF and KVRocks
# its RocksDB directory, so restart_redis loses nothing acknowledged.
start_redis() {
	if on_kvrocks; then
		[ -x "${CODEQ_TEST_KVROCKS:-}" ] || skip "no KVRocks (set CODEQ_TEST_KVROCKS)"
	else
		[ -n "$REDIS_SERVER" ] || skip "redis-server not installed"
	fi
	tries=0
	while :; do
		ready=$(( $(grep -c 'Ready to accept connections' "$T_DIR/redis.log" 2>/dev/null || true) + 1 ))
		REDIS_PORT=$(free_port)
		# A directory per server: a test may start a second one.
		REDIS_DIR="$T_DIR/store.$REDIS_PORT"
		mkdir -p "$REDIS_DIR"
		store_server "$@"
		if wait_for 10 redis_ready_or_gone "$ready" && redis_ready "$ready" &&
		    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
			break
		fi
		kill "$REDIS_PID" 2>/dev/null || true
		tries=$((tries+1))
		[ $tries -lt 5 ] || fail "could not start the store"
	done
	t_track "$REDIS_PID"
	REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
	export REDIS_URL REDIS_PORT CODEQ_REDIS_URL="$REDIS_URL"
}

stop_redis() {
	if on_kvrocks; then
		kill -TERM "$REDIS_PID" 2>/dev/null || true
	else
		redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 ||
			kill "$REDIS_PID" 2>/dev/null || true
	fi
	wait "$REDIS_PID" 2>/dev/null || true
}

# Restart on the same port with the same data (AOF, or KVRocks' RocksDB).
restart_redis() {
	ready=$(( $(grep -c 'Ready to accept connections' "$T_DIR/redis.log" 2>/dev/null || true) + 1 ))
	store_server
	t_track "$REDIS_PID"
	wait_for 10 redis_ready "$ready" || fail "the store did not restart"
}

rcli() { redis-cli -p "$REDIS_PORT" "$@"; }

# start_cluster: a cluster of three masters on loopback, every slot
# served: redis-server --cluster-enabled yes joined by redis-cli --cluster
# create, or on KVRocks three --cluster-enabled yes servers told the
# topology by CLUSTERX SETNODES (KVRocks' nodes do not talk to each
# other).  Sets CLUSTER_NODES ("host:port ...") and SEED_URL (the first
# node's URL).
start_cluster() {
	CLUSTER_NODES=
	SEED_URL=
	for i in 1 2 3; do
		if on_kvrocks; then
			start_redis --cluster-enabled yes
		else
			start_redis --cluster-enabled yes --cluster-port "$(free_port)" \
				--cluster-config-file nodes.conf \
				--cluster-node-timeout 2000 --appendonly no
		fi
		CLUSTER_NODES="$CLUSTER_NODES 127.0.0.1:$REDIS_PORT"
		[ -n "$SEED_URL" ] || SEED_URL=$REDIS_URL
	done
	if on_kvrocks; then
		kvrocks_cluster_topology
		return
	fi
	# shellcheck disable=SC2086
	redis-cli --cluster create $CLUSTER_NODES --cluster-replicas 0 \
		--cluster-yes >"$T_DIR/create.log" 2>&1 ||
		{ cat "$T_DIR/create.log"; fail "cluster create"; }
	for n in $CLUSTER_NODES; do
		wait_for 20 sh -c "redis-cli -p ${n#*:} cluster info | grep -q cluster_state:ok" ||
			fail "node $n: cluster state not ok"
	done
}

# The three KVRocks nodes' ids (40 characters) and slots, set on each.
kvrocks_cluster_topology() {
	set -- $CLUSTER_NODES
	topo="$(printf '%040d' 1) 127.0.0.1 ${1#*:} master - 0-5460
$(printf '%040d' 2) 127.0.0.1 ${2#*:} master - 5461-10922
$(printf '%040d' 3) 127.0.0.1 ${3#*:} master - 10923-16383"
	i=1
	for n in $CLUSTER_NODES; do
		redis-cli -p "${n#*:}" CLUSTERX SETNODEID "$(printf '%040d' $i)" |
			grep -q OK || fail "node $n: SETNODEID"
		redis-cli -p "${n#*:}" CLUSTERX SETNODES "$topo" 1 | grep -q OK ||
			fail "node $n: SETNODES"
		i=$((i + 1))
	done
}

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
	[ "$2" = "$3" ] || fail "$1: expected '$2', got '$3'"
	ok "$1 = $3"
}
