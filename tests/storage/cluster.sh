#!/bin/sh
# tests/storage/cluster.sh: lib/cluster.c on a real Redis Cluster of three
# masters on loopback (redis-server --cluster-enabled yes, joined by
# redis-cli --cluster create): the slot map, a slot migrated while it is
# used (ASK, then MOVED), every key accounted for (cluster_check).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
skip_on_kvrocks "KVRocks' cluster mode is configured by CLUSTERX, not joined by redis-cli"

start_cluster
ok "three masters joined, every slot served"

"$top_builddir/tests/storage/cluster_check" "$SEED_URL" || fail "cluster_check"
