#!/bin/sh
# tests/storage/cluster.sh: lib/cluster.c on a real Redis Cluster of three
# masters on loopback (redis-server --cluster-enabled yes, joined by
# redis-cli --cluster create): the slot map, a slot migrated while it is
# used (ASK, then MOVED), every key accounted for (cluster_check).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
skip_on_kvrocks "KVRocks' cluster mode is configured by CLUSTERX, not joined by redis-cli"

nodes=
for i in 1 2 3; do
	start_redis --cluster-enabled yes --cluster-port "$(free_port)" \
		--cluster-config-file nodes.conf --cluster-node-timeout 2000 \
		--appendonly no
	nodes="$nodes 127.0.0.1:$REDIS_PORT"
	[ -n "${SEED_URL:-}" ] || SEED_URL=$REDIS_URL
done
# shellcheck disable=SC2086
redis-cli --cluster create $nodes --cluster-replicas 0 --cluster-yes \
	>"$T_DIR/create.log" 2>&1 || { cat "$T_DIR/create.log"; fail "cluster create"; }
for n in $nodes; do
	wait_for 20 sh -c "redis-cli -h ${n%:*} -p ${n#*:} cluster info | grep -q cluster_state:ok" ||
		fail "node $n: cluster state not ok"
done
ok "three masters joined, every slot served"

"$top_builddir/tests/storage/cluster_check" "$SEED_URL" || fail "cluster_check"
