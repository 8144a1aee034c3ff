#!/bin/sh
# codeqd on three stores: [store] (the home) and two [shard]s, one queue
# pinned to a shard by name, ten spread by rendezvous hashing
# (shard_hash).  Producers (the CLI, codeq-api over HTTP) enqueue
# without knowing where a queue lives; codeqd's pool drains every store
# (its wake-ups come from each store's codeq:ready); a delayed task on a
# shard is promoted at its time; each queue's keys are on its own store
# only, the registry on the home only; a worker killed with tasks in hand
# gives them back on their own store.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
. "$top_srcdir/tests/api/lib.sh"
start_redis; P_B=$REDIS_PORT; U_B=$REDIS_URL
start_redis; P_C=$REDIS_PORT; U_C=$REDIS_URL
start_redis; P_H=$REDIS_PORT	# the home, last: REDIS_URL and rcli are its
api_token p1 producer
API_PORT=$(free_port)
API_URL="http://127.0.0.1:$API_PORT/v1/codeq"
QUEUES="q0 q1 q2 q3 q4 q5 q6 q7 q8 q9 pinned"
write_conf "$T_DIR/c.conf" <<EOC
[shard b]
url = $U_B
queues = pinned
[shard c]
url = $U_C
[api]
enabled = yes
listen = 127.0.0.1:$API_PORT
tokens_file = $API_TOKENS
[pool p]
queues = $(echo $QUEUES | tr ' ' ',')
so = $TEST_SO
processes = 2
prefetch = 8
EOC
# shard_hash belongs to [store], which write_conf writes first; the
# metrics listener is on.
MPORT=$(free_port)
sed -i -e 's|^\[store\]$|[store]\nshard_hash = yes|' \
	-e "/^\[metrics\]\$/{n;s/.*/listen = 127.0.0.1:$MPORT/}" "$T_DIR/c.conf"
start_codeqd "$T_DIR/c.conf"
export CODEQ_CONFIG="$T_DIR/c.conf"
cq() { "$CODEQ" -c "$T_DIR/c.conf" "$@"; }

# The CLI finds a task on its store (rcli would ask the home only).
done_task() {
	[ "$(cq get "$1" --json | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = completed ]
}
wait_done() { wait_for 20 done_task "$1" || fail "$1 did not complete: $(cq get "$1")"; }

# Where each queue is, from the stores themselves.
holder() {
	for p in $P_H $P_B $P_C; do
		if [ "$(redis-cli -p "$p" EXISTS "codeq:{$1}:seq")" = 1 ]; then
			echo "$p"
		fi
	done
}

for q in $QUEUES; do
	i=0
	while [ $i -lt 50 ]; do
		echo "{\"queue\":\"$q\",\"payload\":{\"op\":\"echo\",\"i\":$i}}"
		i=$((i + 1))
	done
done >"$T_DIR/bulk.jsonl"
cq enqueue q0 --bulk "$T_DIR/bulk.jsonl" >/dev/null || fail "bulk enqueue over shards"
done_all() {
	for q in $QUEUES; do
		[ "$(cq stats "$q" --json | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["completed"])')" = 50 ] || return 1
	done
}
wait_for 60 done_all || fail "not every task completed: $(for q in $QUEUES; do printf '%s ' "$q"; cq stats "$q" --json; done)"
ok "550 tasks over 11 queues on 3 stores, all completed by one pool"

assert_eq "pinned lives on shard b" "$P_B" "$(holder pinned)"
used=
for q in $QUEUES; do
	h=$(holder "$q")
	[ "$(echo "$h" | wc -w)" = 1 ] || fail "queue $q on stores: '$h'"
	case " $used " in *" $h "*) ;; *) used="$used $h" ;; esac
done
assert_eq "stores holding queues" 3 "$(echo $used | wc -w)"
assert_eq "the registry on the home" 11 "$(redis-cli -p "$P_H" SCARD codeq:queues)"
assert_eq "no registry on shard b" 0 "$(redis-cli -p "$P_B" SCARD codeq:queues)"
assert_eq "no registry on shard c" 0 "$(redis-cli -p "$P_C" SCARD codeq:queues)"

# A delayed task on a queue some shard holds: promoted by codeqd, run.
for q in $QUEUES; do
	if [ "$(holder "$q")" = "$P_C" ]; then onc=$q; break; fi
done
id=$(cq enqueue "$onc" --delay 1s --payload '{"op":"echo"}')
wait_done "$id"
ok "a delayed task on shard c ran at its time"

# Over HTTP: codeq-api routes a create to the store of its queue.
call POST /tasks p1 "{\"command\":\"pinned\",\"payload\":{\"op\":\"echo\"}}"
[ "$ST" = 202 ] || fail "create over HTTP: $ST $(cat "$T_DIR/body")"
hid=$(jf 'j["id"]')
wait_done "$hid"
assert_eq "the HTTP task's hash is on shard b" 1 \
	"$(redis-cli -p "$P_B" EXISTS "codeq:{pinned}:t:${hid##*:}")"
ok "a task created over HTTP ran from shard b"
# /metrics: each queue's depth from the store holding it.
for q in idle1 idle2 idle3 idle4 idle5 idle6; do
	cq enqueue "$q" >/dev/null && cq enqueue "$q" >/dev/null
done
depths() {
	curl -fsS "http://127.0.0.1:$MPORT/metrics" |
		grep -c '^codeq_queue_depth{queue="idle[1-6]",state="ready"} 2$'
}
six() { [ "$(depths)" = 6 ]; }
wait_for 10 six || fail "metrics: $(curl -fsS "http://127.0.0.1:$MPORT/metrics" | grep 'queue="idle')"
idle_stores=$(for q in idle1 idle2 idle3 idle4 idle5 idle6; do holder "$q"; done | sort -u | wc -l)
[ "$idle_stores" -ge 2 ] || fail "the idle queues are on $idle_stores store(s)"
ok "/metrics reports the depth of queues on $idle_stores stores"
stop_codeqd

# A map naming a store that is down: codeqd starts, says which store it
# cannot reach (never the password), keeps retrying, and works once the
# store is up.
DOWN=$(free_port)
sed "s|^url = $U_C\$|url = redis://127.0.0.1:$DOWN/0|" "$T_DIR/c.conf" >"$T_DIR/down.conf"
: >"$T_DIR/codeqd.log"
start_codeqd "$T_DIR/down.conf"
wait_for 10 grep -q "shard c (redis://127.0.0.1:$DOWN/0): Connection refused" "$T_DIR/codeqd.log" ||
	fail "no message naming the unreachable shard: $(grep -m3 level=warning "$T_DIR/codeqd.log")"
ok "an unreachable shard is named in codeqd's log"
"$REDIS_SERVER" --port "$DOWN" --bind 127.0.0.1 --save '' --appendonly no \
	>"$T_DIR/down.log" 2>&1 &
t_track $!
wait_for 10 redis-cli -p "$DOWN" ping >/dev/null 2>&1 || fail "the late store did not start"
id=$("$CODEQ" -c "$T_DIR/down.conf" enqueue "$onc" --payload '{"op":"echo"}') ||
	fail "enqueue once the store is up"
done_late() {
	[ "$("$CODEQ" -c "$T_DIR/down.conf" get "$id" --json | "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)["status"])')" = completed ]
}
wait_for 20 done_late || fail "codeqd did not work once the store came up"
ok "once the store is up, codeqd runs its queues' tasks"
stop_codeqd
