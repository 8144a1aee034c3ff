#!/bin/sh
# tests/api/child.sh - codeq-api started as codeqd starts its children
# (`codeq-api --config FILE --fd N --log-level L`, N its end of a
# socketpair): it sends a frame (IPC_READY) once listening, serves, and
# exits 0 when the other end closes (codeqd gone).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
start_redis
. "$top_srcdir/tests/api/lib.sh"
[ -n "$PYTHON3" ] || skip "python3 not installed"

api_token p1 producer
PORT=$(free_port)
printf '[store]\nurl = %s\n[api]\nlisten = 127.0.0.1:%s\ntokens_file = %s\n' \
	"$REDIS_URL" "$PORT" "$API_TOKENS" >"$T_DIR/child.conf"
"$PYTHON3" - "$CODEQ_API" "$T_DIR/child.conf" "$PORT" >"$T_DIR/child.out" 2>&1 <<'EOP' ||
import os, socket, subprocess, sys, time, urllib.request
prog, conf, port = sys.argv[1:4]
parent, child = socket.socketpair()
p = subprocess.Popen([prog, "--config", conf, "--fd", str(child.fileno()),
                      "--log-level", "info"], pass_fds=[child.fileno()])
child.close()
parent.settimeout(10)
frame = parent.recv(4096)
assert frame, "no IPC_READY frame"
print("ready frame", len(frame), "bytes")
req = urllib.request.Request("http://127.0.0.1:%s/v1/codeq/tasks" % port,
    data=b'{"command":"jobs"}', method="POST",
    headers={"Authorization": "Bearer secret-p1"})
with urllib.request.urlopen(req, timeout=10) as r:
    assert r.status == 202, r.status
print("served 202")
parent.close()                       # codeqd gone
rc = p.wait(timeout=10)
assert rc == 0, "exit %d" % rc
print("exit 0 when the socket closed")
EOP
	{ cat "$T_DIR/child.out"; fail "codeq-api as a child"; }
cat "$T_DIR/child.out"
ok "started with --fd, READY sent, served, stopped on EOF"
