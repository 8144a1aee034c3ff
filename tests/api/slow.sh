#!/bin/sh
# tests/api/slow.sh - slow clients hold nothing: 50 connections that send
# half a request and then nothing (a slowloris) do not delay the others'
# requests, and codeq-api closes each after [api] request_timeout.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
start_redis
. "$top_srcdir/tests/api/lib.sh"
[ -n "$PYTHON3" ] || skip "python3 not installed"
api_token p1 producer
start_api 'request_timeout = 1s'
"$PYTHON3" - "$API_PORT" "$T_DIR/slow.done" <<'EOP' &
import socket, sys, time
port, done = int(sys.argv[1]), sys.argv[2]
socks = []
for i in range(50):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v1/codeq/tasks HTTP/1.1\r\nHost: x\r\n"
              b"Authorization: Bearer secret-p1\r\nContent-Length: 100\r\n\r\n{")
    socks.append(s)
open(done + ".open", "w").close()
t0, closed = time.time(), 0
for s in socks:
    # Closed: end of stream (after an error answer, if any), or a reset.
    try:
        while True:
            s.settimeout(max(0.1, 5 - (time.time() - t0)))
            if s.recv(4096) == b"":
                closed += 1
                break
    except socket.timeout:
        pass
    except OSError:
        closed += 1
with open(done, "w") as f:
    f.write("%d %.2f\n" % (closed, time.time() - t0))
EOP
SLOW=$!
t_track "$SLOW"
wait_for 10 test -e "$T_DIR/slow.done.open" || fail "the slow clients did not connect"
t0=$(date +%s%N)
expect "a create beside 50 stalled requests" 202 POST /tasks p1 '{"command":"q","payload":{}}'
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 1000 ] || fail "the create took ${ms} ms beside the stalled clients"
ok "answered in ${ms} ms"
wait "$SLOW" || fail "slow client script"
read -r closed secs <"$T_DIR/slow.done"
assert_eq "stalled connections closed by the server" 50 "$closed"
ok "all closed after ${secs} s (request_timeout = 1s)"
stop_api
