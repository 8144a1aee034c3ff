#!/bin/sh
# WORK_AVAILABLE through codeqd: one batched POST per subscriber with every
# queue that has work for it (fanout), round-robin within a group, a
# stable hash choice, minIntervalSeconds, expiry of an unrenewed
# subscription, the depth scan for work nobody was told about, more
# subscribers on one host than max_per_host, and the target policy
# refusing loopback (notifier and result callbacks alike).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/webhooks/lib.sh"
[ -f "$TEST_SO" ] || skip "tests/handlers/test_handler.so not built"
start_redis
start_sink N

# Tasks of these queues stay ready: the only pool serves another queue.
conf() {
	wh_conf "$T_DIR/c.conf" <<EOC
$(webhooks_section "$1" 3s)
[notifier]
coalesce = 300ms
scan_interval = $2
retries = ${3:-0}
[callbacks]
backoff_base = 100ms
[pool p]
queues = work
so = $TEST_SO
processes = 1
EOC
}
sub() { cq subscribe "$@"; }
# bulk Q...: one task in each queue, in one pipelined CLI call (so that
# the signals fall in one coalescing window).
bulk() {
	for q in "$@"; do printf '{"queue":"%s"}\n' "$q"; done >"$T_DIR/b.jsonl"
	cq enqueue "$1" --bulk "$T_DIR/b.jsonl" >/dev/null || fail "enqueue $*"
}
# The subscriptions are read every second: wait until the notifier's
# latest count is N.
subs_now() {
	awk '/proc=notifier .*msg=stopping/ { c = 0 }
	    /msg="subscriptions changed"/ { sub(/.*count=/, ""); c = $0 }
	    END { print c + 0 }' "$T_DIR/codeqd.log"
}
wait_subs() {
	wait_for 10 size_is "$1" subs_now || fail "notifier did not see $1 subscriptions"
}

conf yes 1h
start_codeqd "$T_DIR/c.conf"

# ---- fanout: batched per subscriber --------------------------------
f1=$(sub qa qb qc --url "$N_URL/f1")
# f2 signs with its own secret, read by the CLI from a file.
SECRET2=whsec_c2Vjb25kIHNlY3JldCBmb3IgZjIgb25seQ==
printf '%s\n' "$SECRET2" >"$T_DIR/secret2"
f2=$(sub qa --url "$N_URL/f2" --secret-file "$T_DIR/secret2")
cq subscriptions list --json | grep -q "$SECRET2" && fail "secret listed"
grep -rq "$SECRET2" "$T_DIR"/*.log && fail "secret logged"
wait_subs 2
bulk qa qb qc qa
wait_for 10 at_least 1 N /f1 || fail "f1 not notified"
wait_for 10 at_least 1 N /f2 || fail "f2 not notified"
sleep 1
sinkpy N "$f1" "$f2" "$SECRET2" <<'PY' || fail "fanout batch"
import base64, hashlib, hmac
f1, f2, secret2 = sys.argv[2:5]
def verify(secret, h, body):
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, ("%s.%s." % (h["webhook-id"], h["webhook-timestamp"])).encode()
                   + body.encode(), hashlib.sha256).digest()
    hexmac = hmac.new(secret.encode(), (h["x-codeq-timestamp"] + ".").encode()
                      + body.encode(), hashlib.sha256).hexdigest()
    return (h["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
            and h["x-codeq-signature"] == hexmac)
for r in rs:
    if r["path"] == "/f2":
        assert not r["std_ok"] and not r["codeq_ok"], "f2 signed with the daemon's secret"
        assert verify(secret2, r["headers"], r["body"]), "f2's own secret does not verify"
    else:
        assert r["std_ok"] and r["codeq_ok"], "signature does not verify"
    j = r["json"]
    assert j["eventType"] == "WORK_AVAILABLE", j
    assert "claimUrl" not in j, j	# [api] is off
    assert r["headers"]["webhook-id"] == j["notificationId"], r["headers"]
a = [r["json"] for r in rs if r["path"] == "/f1"]
b = [r["json"] for r in rs if r["path"] == "/f2"]
assert len(a) == 1 and len(b) == 1, (a, b)
assert a[0]["subscriptionId"] == f1 and b[0]["subscriptionId"] == f2
qs = {q["queue"]: q["ready"] for q in a[0]["queues"]}
assert qs == {"qa": 2, "qb": 1, "qc": 1}, qs
assert [q["queue"] for q in b[0]["queues"]] == ["qa"], b
assert all(q["time"].endswith("Z") for q in a[0]["queues"])
print("ok - fanout: one POST to f1 with qa, qb, qc (ready 2, 1, 1), one to f2 with qa")
print("ok - f2's requests signed with its own secret (both schemes)")
PY
cq subscriptions remove "$f1" >/dev/null && cq subscriptions remove "$f2" >/dev/null ||
	fail "remove"
wait_subs 0

# ---- group: round-robin, one member per notification ----------------
for m in g1 g2 g3; do sub qg --url "$N_URL/$m" --mode group --group g >/dev/null; done
wait_subs 3
: >"$T_DIR/N.jsonl"
i=1
while [ $i -le 6 ]; do
	cq enqueue qg >/dev/null
	wait_for 10 at_least $i N || fail "group notification $i missing"
	i=$((i+1))
done
sleep 1
sinkpy N <<'PY' || fail "group round-robin"
paths = [r["path"] for r in rs]
assert len(rs) == 6, paths
assert sorted(paths) == ["/g1", "/g1", "/g2", "/g2", "/g3", "/g3"], paths
print("ok - group: 6 notifications, 2 to each of 3 members: %s" % " ".join(paths))
PY
for id in $(cq subscriptions list --json | "$PYTHON3" -c 'import json,sys
print(" ".join(s["id"] for s in json.load(sys.stdin)))'); do
	cq subscriptions remove "$id" >/dev/null
done
wait_subs 0

# ---- hash: each queue to one member, the same one every time --------
H="qh1 qh2 qh3 qh4 qh5 qh6 qh7 qh8"
sub $H --url "$N_URL/h1" --mode hash --group hg >/dev/null
sub $H --url "$N_URL/h2" --mode hash --group hg >/dev/null
wait_subs 2
: >"$T_DIR/N.jsonl"
# entries N: the sink's requests name N queues in all.
entries() {
	sinkpy N "$1" <<'PY'
assert sum(len(r["json"]["queues"]) for r in rs) == int(sys.argv[2])
PY
}
bulk $H
wait_for 10 entries 8 || fail "hash: the 8 queues not notified"
bulk $H
wait_for 10 entries 16 || fail "hash: the 8 queues not notified again"
sleep 0.5	# room for a wrong, extra notification to show up
sinkpy N <<'PY' || fail "hash mode"
owner = {}
for r in rs:
    for q in r["json"]["queues"]:
        owner.setdefault(q["queue"], []).append(r["path"])
assert len(owner) == 8, owner
for q, who in owner.items():
    assert len(who) == 2 and who[0] == who[1], (q, who)
members = {w[0] for w in owner.values()}
assert members == {"/h1", "/h2"}, owner
print("ok - hash: 8 queues split over h1/h2, each queue to the same member twice")
PY
for id in $(cq subscriptions list --json | "$PYTHON3" -c 'import json,sys
print(" ".join(s["id"] for s in json.load(sys.stdin)))'); do
	cq subscriptions remove "$id" >/dev/null
done
wait_subs 0

# ---- more subscribers on one host than max_per_host ---------------
# 12 fanout subscribers on the sink (max_per_host is 8): 6 listen to "*",
# 6 name the queue; every one gets its own POST, none is starved while
# the notifier holds the batches beyond the host's 8 requests.
i=1
while [ $i -le 12 ]; do
	if [ $i -le 6 ]; then q='*'; else q=qn; fi
	sub "$q" --url "$N_URL/n$i" >/dev/null
	i=$((i+1))
done
wait_subs 12
: >"$T_DIR/N.jsonl"
cq enqueue qn >/dev/null
wait_for 10 at_least 12 N || fail "12 subscribers: $(requests N) POSTs"
sleep 0.5	# room for a wrong, extra notification to show up
sinkpy N <<'PY' || fail "12 subscribers on one host"
paths = sorted(r["path"] for r in rs)
assert paths == sorted("/n%d" % i for i in range(1, 13)), paths
for r in rs:
    assert [q["queue"] for q in r["json"]["queues"]] == ["qn"], r["json"]
print("ok - 12 subscribers (6 to *, 6 to qn) on one host: one POST each")
PY
for id in $(cq subscriptions list --json | "$PYTHON3" -c 'import json,sys
print(" ".join(s["id"] for s in json.load(sys.stdin)))'); do
	cq subscriptions remove "$id" >/dev/null
done
wait_subs 0

# ---- minIntervalSeconds --------------------------------------------
# 4 s: the three further signals (one bulk CLI call, right after the
# first POST arrived) fall before it ends, even under a sanitizer on a
# loaded machine; three separate calls with sleeps between them did not.
sub qm --url "$N_URL/m" --min-interval 4s >/dev/null
wait_subs 1
: >"$T_DIR/N.jsonl"
cq enqueue qm >/dev/null
wait_for 10 at_least 1 N /m || fail "min-interval: first notification"
bulk qm qm qm
wait_for 10 at_least 2 N /m || fail "min-interval: second notification"
sleep 1
sinkpy N <<'PY' || fail "min interval"
m = [r for r in rs if r["path"] == "/m"]
assert len(m) == 2, "%d POSTs" % len(m)
gap = m[1]["t"] - m[0]["t"]
# Held for the interval: without it the second POST would follow within
# about a second.  The margin is for the sink: it stamps arrivals, and
# the first request (a new connection) may take longer to arrive.
assert gap >= 3.5, "second POST %.2f s after the first" % gap
assert m[1]["json"]["queues"][0]["ready"] == 4, m[1]["json"]
print("ok - minInterval 4s: 4 signals, 2 POSTs %.1f s apart, the second with ready 4" % gap)
PY
cq subscriptions remove "$(cq subscriptions list --json | "$PYTHON3" -c 'import json,sys
print(json.load(sys.stdin)[0]["id"])')" >/dev/null
wait_subs 0

# ---- expiry --------------------------------------------------------
# r first, then e: the notifier reads the subscriptions every second, so
# one of its reads falls within e's 2 s life and sees both, however long
# the second CLI call takes to start.
r=$(sub qe --url "$N_URL/r" --ttl 8s)
e=$(sub qe --url "$N_URL/e" --ttl 2s)
wait_subs 2
e_gone() { ! cq subscriptions list | grep -q "$e"; }
wait_for 10 e_gone || fail "a subscription with ttl 2s still listed after 10 s"
cq subscriptions renew "$r" >/dev/null || fail "renew"
wait_subs 1
cq subscriptions list | grep -q "$e" && fail "expired subscription still listed"
cq subscriptions renew "$e" 2>/dev/null && fail "an expired subscription was renewed"
: >"$T_DIR/N.jsonl"
cq enqueue qe >/dev/null
wait_for 10 at_least 1 N /r || fail "renewed subscription not notified"
sleep 1
assert_eq "requests to the expired subscription" 0 "$(requests N /e)"

# ---- a delayed task becoming ready ---------------------------------
# The only worker is kept busy (its task runs while "hold" exists), so
# the promoted task stays ready; no depth scan runs in this configuration
# (1 h): the promotion's signal is what triggers the notification.  The
# busy task is leased before d subscribes: its own signal finds the queue
# empty (no notification) whenever the notifier gets to it.
touch "$T_DIR/hold"
hid=$(cq enqueue work --payload "{\"op\":\"hold\",\"file\":\"$T_DIR/hold\"}")
held() { [ "$(rcli HGET "codeq:{work}:t:${hid##*:}" status)" = leased ]; }
wait_for 20 held || fail "$hid not leased"
sub work --url "$N_URL/d" >/dev/null
wait_subs 2
: >"$T_DIR/N.jsonl"
cq enqueue work --payload '{"op":"echo"}' --delay 1500ms >/dev/null
wait_for 10 at_least 1 N /d || fail "no WORK_AVAILABLE when a delayed task became ready"
sinkpy N <<'PY' || fail "delayed task"
d = [r for r in rs if r["path"] == "/d"]
assert d[0]["json"]["queues"] == [{"queue": "work", "ready": 1,
    "time": d[0]["json"]["queues"][0]["time"]}], d[0]["json"]
print("ok - a delayed task became ready: WORK_AVAILABLE for work (ready 1)")
PY
rm -f "$T_DIR/hold"
stop_codeqd

# ---- the depth scan: work that arrived before the subscription -----
# (with one retry configured: the endpoint answers 500 first)
conf yes 1s 1
rcli DEL "codeq:sub:$r" >/dev/null; rcli DEL codeq:subs >/dev/null
cq enqueue qs >/dev/null
start_codeqd "$T_DIR/c.conf"
: >"$T_DIR/N.jsonl"
plan N /s 500,200
sub qs --url "$N_URL/s" >/dev/null
wait_for 10 at_least 1 N /s || fail "depth scan did not notify existing work"
ok "depth scan: a new subscriber is told about work enqueued before it"
wait_for 10 at_least 2 N /s || fail "[notifier] retries = 1: no retry after a 500"
sinkpy N <<'PY' || fail "notifier retry"
s = [r for r in rs if r["path"] == "/s"]
assert [r["step"] for r in s[:2]] == ["500", "200"], [r["step"] for r in s]
assert s[0]["headers"]["webhook-id"] == s[1]["headers"]["webhook-id"]
print("ok - [notifier] retries = 1: a 500 retried with the same webhook-id")
PY
stop_codeqd

# ---- target policy: loopback refused -------------------------------
conf no 1h
rcli DEL codeq:subs >/dev/null
start_codeqd "$T_DIR/c.conf"
: >"$T_DIR/N.jsonl"
sub qp --url "$N_URL/p" >/dev/null
wait_subs 1
cq enqueue qp >/dev/null
cid=$(cq enqueue work --payload '{"op":"echo"}' --webhook "$N_URL/cb")
wait_for 20 grep -q 'proc=notifier.*target refused by policy: loopback' "$T_DIR/codeqd.log" ||
	fail "notifier did not refuse a loopback target"
wait_for 20 size_is 1 cbdlq_size work || fail "refused callback not dead-lettered"
cq callbacks dlq list work | grep -q "$cid.*refused by policy" ||
	fail "callbacks DLQ does not say why: $(cq callbacks dlq list work)"
assert_eq "requests that reached the loopback sink" 0 "$(requests N)"
ok "loopback refused on the resolved address: no request sent, callback dead-lettered"
rc=0; cq subscribe qx --url ftp://example.com/ 2>"$T_DIR/err" || rc=$?
assert_eq "subscribe refuses a non-http URL: exit status" 64 "$rc"
grep -q "scheme must be http or https" "$T_DIR/err" || fail "message: $(cat "$T_DIR/err")"

# If codeqd dies, its webhook processes see EOF on their IPC socket and
# exit by themselves.
lastpid() {
	grep "proc=$1 .*msg=\"$1 started\"" "$T_DIR/codeqd.log" | tail -n 1 |
		sed 's/.* pid=\([0-9]*\) .*/\1/'
}
npid=$(lastpid notifier); cpid=$(lastpid callbacks)
kill -0 "$npid" && kill -0 "$cpid" || fail "webhook processes not running"
kill -KILL "$CODEQD_PID"
# (gone, or a zombie waiting for whoever inherited it)
gone() { [ ! -e "/proc/$1" ] || grep -q '^[0-9]* (.*) Z' "/proc/$1/stat"; }
wait_for 10 gone "$npid" || fail "notifier outlived codeqd"
wait_for 10 gone "$cpid" || fail "callbacks process outlived codeqd"
ok "notifier and callbacks exit when codeqd is gone (EOF on the IPC socket)"
