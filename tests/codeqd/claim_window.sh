#!/bin/sh
# dispatcher_claim_window: a worker killed after its claim ran in the
# store but before it could say CLAIMED (the claim's reply was on the way)
# has its task given back at once, with the attempt counted -- not after
# the lease expires.  The window is held open by a TCP proxy between codeq
# and the store that, once armed, swallows the replies of the next claim
# of pool "grabpool".
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
[ -n "$PYTHON3" ] || skip "python3 not installed"
start_redis

PPORT=$(free_port)
"$PYTHON3" - "$PPORT" "$REDIS_PORT" "$T_DIR/arm" "$T_DIR/held" <<'EOP' >"$T_DIR/proxy.log" 2>&1 &
import os, socket, sys, threading
lport, sport, arm, held = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()

def pipe(src, dst, state, upstream):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if upstream:
                with lock:
                    if (os.path.exists(arm) and b"EVALSHA" in data
                            and b":grabpool" in data):
                        os.unlink(arm)
                        open(held, "w").close()
                        state["hold"] = True
            elif state["hold"]:
                continue        # the claim's reply never arrives
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", lport))
ls.listen(64)
while True:
    c, _ = ls.accept()
    s = socket.create_connection(("127.0.0.1", sport))
    st = {"hold": False}
    threading.Thread(target=pipe, args=(c, s, st, True), daemon=True).start()
    threading.Thread(target=pipe, args=(s, c, st, False), daemon=True).start()
EOP
t_track $!
wait_for 10 sh -c "redis-cli -p $PPORT PING | grep -q PONG" || fail "proxy not up"

write_conf "$T_DIR/c.conf" <<EOC
[pool grabpool]
queues = wq
command = cat
processes = 1
lease = 60s
EOC
sed -i "s|^url = .*|url = redis://127.0.0.1:$PPORT/0|" "$T_DIR/c.conf"
start_codeqd "$T_DIR/c.conf"

# A first task shows the pool works through the proxy.
id=$(cq enqueue wq --payload '{"n":1}')
wait_status "$id" completed
ok "a task runs through the proxy"

wpid=$(worker_pids)
[ -n "$wpid" ] || fail "no worker"
# Freeze the worker so its next claim is the one with the task in it.
kill -STOP "$wpid"
id=$(cq enqueue wq --payload '{"n":2}')
: >"$T_DIR/arm"
kill -CONT "$wpid"
wait_for 20 test -e "$T_DIR/held" || fail "the worker's claim never came"
wait_status "$id" leased
ok "the claim ran in the store; its reply is held from worker $wpid"
grep -q "msg=\"task started\".*task=$id" "$T_DIR/codeqd.log" &&
	fail "the worker got the reply after all"
kill -KILL "$wpid"

# The lease runs for 60 s; at once means well before that.
wait_status "$id" completed 15
assert_eq "attempts: the dead worker's claim counted" 2 "$(field "$id" attempts)"
grep -q "a dead worker's claims it had not reported" "$T_DIR/codeqd.log" ||
	fail "no log line for the recovered claim"
grep -q "msg=\"task given back\" task=$id" "$T_DIR/codeqd.log" ||
	fail "no give-back logged for $id"
ok "the unreported claim was given back at once and ran again"
stop_codeqd
