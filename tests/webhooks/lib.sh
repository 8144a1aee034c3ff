# tests/webhooks/lib.sh - helpers for the webhook tests; source after
# lib.sh.  Sinks are tests/webhooks/sink.py on free loopback ports; they verify both
# signature schemes with Python's hmac, independently of codeq.

[ -n "$PYTHON3" ] || skip "python3 not installed"
# codeqd and the CLI as the dispatcher tests start, stop and call them:
# stop_codeqd also fails the test on a sanitizer report in codeqd.log,
# where the notifier's and the callbacks process' reports land too.
. "$top_srcdir/tests/codeqd/lib.sh"

SECRET="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
printf '%s\n' "$SECRET" >"$T_DIR/secret"

# start_sink NAME [--port N] [--plan PATH=STEPS]...: a sink logging to
# $T_DIR/NAME.jsonl; sets NAME_URL and NAME_PID.
start_sink() {
	name=$1; shift
	rm -f "$T_DIR/$name.port"
	"$PYTHON3" "$top_srcdir/tests/webhooks/sink.py" --port-file "$T_DIR/$name.port" \
		--log "$T_DIR/$name.jsonl" --secret "$SECRET" "$@" \
		2>>"$T_DIR/$name.log" &
	eval "${name}_PID=$!"
	t_track $!
	wait_for 10 test -s "$T_DIR/$name.port" || fail "sink $name did not start"
	eval "${name}_URL=http://127.0.0.1:$(cat "$T_DIR/$name.port")"
}

stop_sink() {
	eval "kill \$${1}_PID" 2>/dev/null || true
	eval "wait \$${1}_PID" 2>/dev/null || true
}

# plan NAME PATH STEPS: change how a sink answers PATH from now on.
plan() {
	eval "u=\$${1}_URL"
	curl -fsS -X POST "$u/_plan?path=$2&plan=$3" >/dev/null ||
		fail "could not set plan on sink $1"
}

# requests NAME [PATH]: how many requests the sink received.
requests() {
	if [ -n "${2:-}" ]; then
		grep -c "\"path\": \"$2\"" "$T_DIR/$1.jsonl" 2>/dev/null || true
	else
		grep -c . "$T_DIR/$1.jsonl" 2>/dev/null || true
	fi
}

# at_least N NAME [PATH]
at_least() { [ "$(requests "$2" "${3:-}")" -ge "$1" ]; }

# sinkpy NAME <<'PY' ... PY: python with `rs`, the sink's requests (each
# with "body" parsed into "json" when it is JSON), and sys.argv[2:] as
# extra arguments.
sinkpy() {
	log="$T_DIR/$1.jsonl"; shift
	{ cat <<'PRE'
import json, re, sys
rs = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    try:
        r["json"] = json.loads(r["body"])
    except ValueError:
        r["json"] = None
    rs.append(r)
PRE
	cat; } >"$T_DIR/check.py"
	"$PYTHON3" "$T_DIR/check.py" "$log" "$@"
}

# wh_conf FILE: codeqd with the webhook processes on, short intervals; the
# other sections (webhooks, notifier, callbacks, pools) come from stdin.
# The metrics listener is $WH_METRICS (default off); $WH_STORE, more lines
# of the [store] section.
wh_conf() {
	{
		printf '[store]\nurl = %s\n%s\n' "$REDIS_URL" "${WH_STORE:-}"
		printf '[codeqd]\ntick = 50ms\nreap_interval = 500ms\n'
		printf 'shutdown_timeout = 10s\nrestart_backoff_max = 1s\n'
		printf 'log_level = debug\n\n'
		printf '[metrics]\nlisten = %s\n\n' "${WH_METRICS:-off}"
		cat
	} >"$1"
}

# The [webhooks] section most tests use.
webhooks_section() {
	printf '[webhooks]\nallow_loopback = %s\nsecret_file = %s\n' \
		"${1:-yes}" "$T_DIR/secret"
	printf 'connect_timeout = 1s\ntimeout = %s\n\n' "${2:-5s}"
}

# enqueue_with_webhook QUEUE N URL: N echo tasks (payload i = 0..N-1) in
# one bulk enqueue, each with its result webhook to URL.
enqueue_with_webhook() {
	i=0
	while [ $i -lt "$2" ]; do
		printf '{"payload":{"op":"echo","i":%d},"webhook":"%s"}\n' $i "$3"
		i=$((i+1))
	done >"$T_DIR/tasks.jsonl"
	cq enqueue "$1" --bulk "$T_DIR/tasks.jsonl" >/dev/null || fail "bulk enqueue"
}

completed() { rcli HGET "codeq:{$1}:stats" completed; }
outbox_size() { rcli ZCARD "codeq:{$1}:outbox"; }
cbdlq_size() { rcli LLEN "codeq:{$1}:cbdlq"; }
is_zero() { [ "$("$@")" = 0 ]; }
# size_is N COMMAND...: COMMAND prints N.
size_is() { n=$1; shift; [ "$("$@")" = "$n" ]; }

# task_ids NAME [PATH]: the distinct task ids delivered to the sink (one
# per line), whether sent alone or in batches.
task_ids() {
	"$PYTHON3" - "$T_DIR/$1.jsonl" "${2:-}" <<'PY'
import json, sys
ids = set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if sys.argv[2] and r["path"] != sys.argv[2]:
        continue
    try:
        j = json.loads(r["body"])
    except ValueError:
        continue
    for p in j.get("results", [j]):
        if "taskId" in p:
            ids.add(p["taskId"])
print("\n".join(sorted(ids)))
PY
}

# delivered_at_least N NAME [PATH]: N distinct task ids delivered.
delivered_at_least() {
	[ "$(task_ids "$2" "${3:-}" | grep -c .)" -ge "$1" ]
}

# work_available_six SUB_URL: subscribes to queues w0..w5 at SUB_URL
# (sink S, path /wa), enqueues one task to each, and waits until
# WORK_AVAILABLE has named all six with a ready depth of 1.
work_available_six() {
	cq subscribe w0 w1 w2 w3 w4 w5 --url "$1/wa" >/dev/null || fail "subscribe"
	wait_for 10 grep -q 'msg="subscriptions changed".*count=1' "$T_DIR/codeqd.log" ||
		fail "the notifier did not see the subscription"
	for q in w0 w1 w2 w3 w4 w5; do printf '{"queue":"%s"}\n' "$q"; done >"$T_DIR/w.jsonl"
	cq enqueue w0 --bulk "$T_DIR/w.jsonl" >/dev/null || fail "enqueue w*"
	wait_for 15 size_is 6 wa_named || fail "WORK_AVAILABLE named $(wa_named) of 6 queues"
}

# wa_named: how many queues sink S's /wa requests named with ready 1.
wa_named() {
	sinkpy S <<'PY'
qs = {}
for r in rs:
    if r["path"] == "/wa":
        for q in r["json"]["queues"]:
            qs[q["queue"]] = q["ready"]
print(len([q for q, n in qs.items() if n == 1]))
PY
}
