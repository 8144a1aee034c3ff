#!/bin/sh
# tests/storage/cluster_codeq.sh: libcodeq with [store] cluster = yes on a
# real three-master Redis Cluster, driven by the codeq CLI alone: queues
# spread over every master; enqueue (one and --bulk), claim, complete,
# stats, fsck; then a queue's slot migrated to another master (SETSLOT
# MIGRATING/IMPORTING, MIGRATE, SETSLOT NODE: ASK, then MOVED) while its
# tasks keep being enqueued, claimed and completed; every task accounted
# for at the end.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
skip_on_kvrocks "KVRocks' cluster mode is configured by CLUSTERX, not joined by redis-cli"
[ -n "$PYTHON3" ] || skip "python3 not installed"
# jsonf FIELD: one field of the JSON object on stdin.
jsonf() { "$PYTHON3" -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

start_cluster
nodes=$CLUSTER_NODES
SEED=$SEED_URL
unset CODEQ_REDIS_URL
conf="$T_DIR/codeq.conf"
printf '[store]\nurl = %s\ncluster = yes\n' "$SEED" >"$conf"
cq() { "$top_builddir/codeq" -c "$conf" "$@"; }

# Twelve queues, ten tasks each (five one by one, five in one --bulk).
QUEUES="q0 q1 q2 q3 q4 q5 q6 q7 q8 q9 q10 q11"
: >"$T_DIR/bulk"
for q in $QUEUES; do
	for i in 1 2 3 4 5; do
		cq enqueue "$q" --payload "{\"i\":$i}" >/dev/null || fail "enqueue $q"
		printf '{"queue":"%s","payload":{"b":%d}}\n' "$q" "$i" >>"$T_DIR/bulk"
	done
done
cq enqueue q0 --bulk "$T_DIR/bulk" >/dev/null || fail "enqueue --bulk"
for n in $nodes; do
	k=$(redis-cli -p "${n#*:}" dbsize)
	[ "$k" -gt 0 ] || fail "node $n holds no queue"
done
ok "twelve queues enqueued over the three masters"

stat() { cq stats "$1" --json | jsonf "$2"; }
for q in $QUEUES; do
	[ "$(stat "$q" ready)" = 10 ] || fail "$q: ready $(stat "$q" ready), not 10"
done
ok "stats: ten ready in each queue"

# Claims up to $2 tasks of $1 and completes them: prints how many.
drain() {
	cq claim "$1" --max "$2" --json --quiet >"$T_DIR/claimed.$1" 2>"$T_DIR/claim.err"
	rc=$?
	[ $rc = 0 ] || [ $rc = 75 ] || { cat "$T_DIR/claim.err" >&2; return 1; }
	n=0
	while read -r line; do
		id=$(printf '%s' "$line" | jsonf id)
		tok=$(printf '%s' "$line" | jsonf lease_token)
		cq complete "$id" --token "$tok" --result '{"ok":1}' >/dev/null || return 1
		n=$((n+1))
	done <"$T_DIR/claimed.$1"
	echo "$n"
}
for q in $QUEUES; do
	[ "$(drain "$q" 20)" = 10 ] || fail "$q: did not drain ten"
	[ "$(stat "$q" completed)" = 10 ] || fail "$q: completed $(stat "$q" completed)"
	[ "$(stat "$q" ready)" = 0 ] || fail "$q: still ready"
done
cq fsck >"$T_DIR/fsck.out" 2>&1 || { cat "$T_DIR/fsck.out"; fail "fsck"; }
ok "claim, complete, stats and fsck (SCAN over every master) on every queue"

# The slot of queue mig, its node and another.
Q=mig
SEEDPORT=$(echo "$SEED" | sed 's|.*:\([0-9]*\)/.*|\1|')
slot=$(redis-cli -p "$SEEDPORT" cluster keyslot "codeq:{$Q}:seq")
cq enqueue "$Q" >/dev/null || fail "enqueue $Q"
src= dst=
for n in $nodes; do
	p=${n#*:}
	if [ "$(redis-cli -p "$p" cluster countkeysinslot "$slot")" -gt 0 ]; then
		src=$p
	elif [ -z "$dst" ]; then
		dst=$p
	fi
done
[ -n "$src" ] && [ -n "$dst" ] || fail "slot $slot: no source or destination"
src_id=$(redis-cli -p "$src" cluster myid)
dst_id=$(redis-cli -p "$dst" cluster myid)

# Work on the queue all along the migration.
(
	i=0
	while [ ! -e "$T_DIR/stop" ]; do
		cq enqueue "$Q" --payload "{\"w\":$i}" >/dev/null || { echo "enqueue $i" >>"$T_DIR/worker.err"; exit 1; }
		drain "$Q" 1 >/dev/null || { echo "drain $i" >>"$T_DIR/worker.err"; exit 1; }
		i=$((i+1))
	done
	echo "$i" >"$T_DIR/worker.done"
) &
worker=$!
sleep 1
redis-cli -p "$dst" cluster setslot "$slot" importing "$src_id" >/dev/null
redis-cli -p "$src" cluster setslot "$slot" migrating "$dst_id" >/dev/null
sleep 1
# Every key of the slot, in one MIGRATE each round (a queue's keys move
# together); keys written on the source meanwhile go in the next round.
while :; do
	keys=$(redis-cli -p "$src" cluster getkeysinslot "$slot" 1000)
	[ -n "$keys" ] || break
	# shellcheck disable=SC2086
	redis-cli -p "$src" migrate 127.0.0.1 "$dst" "" 0 5000 keys $keys >/dev/null ||
		fail "MIGRATE"
done
sleep 1
for n in $nodes; do
	redis-cli -p "${n#*:}" cluster setslot "$slot" node "$dst_id" >/dev/null
done
sleep 1
touch "$T_DIR/stop"
wait "$worker" || { cat "$T_DIR/worker.err"; fail "work during the migration"; }
[ "$(redis-cli -p "$dst" cluster countkeysinslot "$slot")" -gt 0 ] ||
	fail "slot $slot: not on the destination"
ok "slot $slot of $Q migrated from :$src to :$dst while $(cat "$T_DIR/worker.done") tasks went through it"

# The task enqueued before the migration is still there to drain.
drain "$Q" 10 >/dev/null || fail "final drain"
enq=$(stat "$Q" enqueued)
[ "$enq" -gt 1 ] || fail "$Q: only $enq enqueued"
[ "$(stat "$Q" completed)" = "$enq" ] || fail "$Q: completed $(stat "$Q" completed) of $enq"
[ "$(stat "$Q" ready)" = 0 ] && [ "$(stat "$Q" leased)" = 0 ] || fail "$Q: tasks left"
cq fsck "$Q" >"$T_DIR/fsck.out" 2>&1 || { cat "$T_DIR/fsck.out"; fail "fsck $Q"; }
ok "$enq tasks of $Q enqueued, $enq completed, none ready or leased, fsck clean"

# A node down: the message names it.
redis-cli -p "$dst" shutdown nosave >/dev/null 2>&1 || true
wait_for 10 sh -c "! redis-cli -p $dst ping >/dev/null 2>&1" || fail "node still up"
out=$(cq stats "$Q" 2>&1) && fail "stats with the queue's node down: $out"
echo "$out" | grep -q "cluster node 127.0.0.1:$dst" || fail "error names no node: $out"
ok "the queue's node down: $out"
