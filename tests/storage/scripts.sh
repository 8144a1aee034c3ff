#!/bin/sh
# tests/storage/scripts.sh: runs the storage protocol's integration tests
# (tests/storage/scripts_check, Check) against a private store (redis-server, or
# KVRocks in the suite's KVRocks pass).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
start_redis
CODEQ_TEST_URL=$REDIS_URL CODEQ_TEST_STORE_PID=$REDIS_PID "$top_builddir/tests/storage/scripts_check" || fail "storage_test"
ok "storage protocol"
