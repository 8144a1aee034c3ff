#!/bin/sh
# tests/cli/bulk.sh: codeq enqueue --bulk: JSON Lines with bad lines in the
# middle -> every good line enqueued (in order, with its fields), each bad
# one reported by its number, exit 65; stdin; duplicates; 20 000 lines.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
. "$top_srcdir/tests/cli/lib.sh"
start_redis

printf '[store]\nmax_payload = 1KiB\n' >"$T_DIR/codeq.conf"
big=$("$PYTHON3" -c 'print("\"" + "x" * 2000 + "\"")')
cat >"$T_DIR/tasks.jsonl" <<JSONL
{"payload": {"n": 1}}
{"payload": {"n": 2}, "priority": 9}
{"payload": {"n": 3}
{"payload": {"n": 4}, "delay": "1h"}
{"payload": {"n": 5}, "priority": 12}
{"payload": {"n": 6}, "max_attempts": 2, "idempotency_key": "six"}
{"payload": {"n": 7}, "prio": 1}
{"payload": $big}

{"payload": {"n": 10}, "queue": "other", "at": 0}
[1, 2]
{"payload": {"n": 12}, "delay": "soon"}
{"payload": {"n": 13}, "webhook": "ftp://nope"}
{"payload": {"n": 14}}
JSONL
run_cq -c "$T_DIR/codeq.conf" enqueue bulk --bulk "$T_DIR/tasks.jsonl"
assert_eq "exit status with bad lines" 65 "$RC"
assert_eq "summary" "6 enqueued, 0 duplicates, 7 bad lines (of 14)" "$OUT"
printf '%s\n' "$ERR" >"$T_DIR/bad"
cat >"$T_DIR/want" <<'EOF2'
codeq: enqueue: line 3: not valid JSON: '}' expected near end of file (column 20)
codeq: enqueue: line 5: priority: must be 0-9, got 12
codeq: enqueue: line 7: unknown field 'prio' (known: payload, priority, delay, at, max_attempts, idempotency_key, webhook, traceparent, queue)
codeq: enqueue: line 8: payload: 2002 bytes, over the limit of 1024
codeq: enqueue: line 11: must be a JSON object, one task per line
codeq: enqueue: line 12: delay: must be a duration like "30s" or a number of seconds
codeq: enqueue: line 13: webhook: must be an http:// or https:// URL of at most 2048 bytes, got 'ftp://nope'
EOF2
diff -u "$T_DIR/want" "$T_DIR/bad" || fail "bad line reports differ"
ok "each bad line reported by number, in line order"
payloads=$(cq claim bulk --max 100 --json | jlines '["payload"]["n"]' | tr '\n' ' ')
assert_eq "good lines, in order (priority 9 first; delayed one waits)" "2 1 6 14 " "$payloads"
assert_eq "delayed line" 1 "$(cq stats bulk --json | jget '["delayed"]')"
assert_eq "queue override" 10 "$(cq claim other --json | jget '["payload"]["n"]')"
assert_eq "max_attempts and key kept" "2 six" \
	"$(cq get bulk:4 --json | "$PYTHON3" -c 'import json,sys; t=json.load(sys.stdin); print(t["max_attempts"], t["idempotency_key"])')"

# from stdin, with --json counts; an idempotency key seen before is a
# duplicate, not an error
printf '%s\n' '{"idempotency_key": "six"}' '{"payload": 1}' '{"payload": 2}' |
	"$CODEQ" enqueue bulk --bulk - --json >"$T_DIR/out" || fail "stdin bulk failed"
assert_eq "stdin summary" '{"lines":3,"enqueued":2,"duplicates":1,"bad":0}' "$(cat "$T_DIR/out")"

# refused combinations and files
expect 66 "codeq: enqueue: --bulk: $T_DIR/none: No such file or directory" \
	enqueue bulk --bulk "$T_DIR/none"
expect 64 "codeq: enqueue: --bulk: the task options go in the file, one JSON object per line
Try 'codeq enqueue --help'." enqueue bulk --bulk - --priority 3

# 20 000 lines with two bad ones in the middle: none of the good ones lost
"$PYTHON3" - "$T_DIR/many.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(1, 20001):
        if i in (10001, 15000):
            f.write("not json\n")
        else:
            f.write(json.dumps({"payload": {"i": i}, "priority": i % 10}) + "\n")
PY
run_cq enqueue many --bulk "$T_DIR/many.jsonl"
assert_eq "many: exit status" 65 "$RC"
assert_eq "many: summary" "19998 enqueued, 0 duplicates, 2 bad lines (of 20000)" "$OUT"
assert_eq "many: reports" "codeq: enqueue: line 10001: not valid JSON: '[' or '{' expected near 'not' (column 3)
codeq: enqueue: line 15000: not valid JSON: '[' or '{' expected near 'not' (column 3)" "$ERR"
s=$(cq stats many --json)
assert_eq "many: enqueued counter" 19998 "$(echo "$s" | jget '["enqueued"]')"
assert_eq "many: ready" 19998 "$(echo "$s" | jget '["ready"]')"
assert_eq "many: per priority" "[1999, 1999, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000]" \
	"$(echo "$s" | jget '["ready_by_priority"]')"

# many bad lines after a good one: reports are capped, good lines kept
"$PYTHON3" -c '
print("{\"payload\": 1}")
for i in range(2500): print("{\"priority\": 10}")
print("{\"payload\": 2}")' >"$T_DIR/mostly-bad.jsonl"
run_cq enqueue mb --bulk "$T_DIR/mostly-bad.jsonl"
assert_eq "mostly bad: exit" 65 "$RC"
assert_eq "mostly bad: summary" "2 enqueued, 0 duplicates, 2500 bad lines (of 2502)" "$OUT"
assert_eq "mostly bad: first report" "codeq: enqueue: line 2: priority: must be 0-9, got 10" \
	"$(printf '%s\n' "$ERR" | head -n 1)"
assert_eq "mostly bad: last report" "codeq: enqueue: line 1001: priority: must be 0-9, got 10" \
	"$(printf '%s\n' "$ERR" | sed -n 1000p)"
assert_eq "mostly bad: the rest counted" "codeq: enqueue: 1500 more bad lines not shown" \
	"$(printf '%s\n' "$ERR" | tail -n 1)"
assert_eq "mostly bad: both good lines" "1 2" \
	"$(cq claim mb --max 5 --json | jlines '["payload"]' | tr '\n' ' ' | sed 's/ $//')"

# an endless line is not read into memory: it is a bad line of its own
# (max_payload 1KiB: lines are kept up to 2 KiB + 64 KiB)
"$PYTHON3" -c '
import sys
sys.stdout.write("{\"payload\": 1}\n{\"payload\": \"" + "x" * 5000000 + "\"}\n{\"payload\": 3}")' \
	>"$T_DIR/long.jsonl"
run_cq -c "$T_DIR/codeq.conf" enqueue long --bulk "$T_DIR/long.jsonl"
assert_eq "long line: exit" 65 "$RC"
assert_eq "long line: summary" "2 enqueued, 0 duplicates, 1 bad lines (of 3)" "$OUT"
assert_eq "long line: report" "codeq: enqueue: line 2: longer than 67584 bytes" "$ERR"
assert_eq "long line: the others, the last without a newline" "1 3" \
	"$(cq claim long --max 5 --json | jlines '["payload"]' | tr '\n' ' ' | sed 's/ $//')"

# the progress bar, when stderr is a terminal (util-linux script(1))
if command -v script >/dev/null 2>&1; then
	head -n 3000 "$T_DIR/many.jsonl" | grep -v 'not json' >"$T_DIR/some.jsonl"
	script -qec "'$CODEQ' enqueue bar --bulk '$T_DIR/some.jsonl'" /dev/null \
		>"$T_DIR/tty" 2>&1 || fail "bulk under a terminal failed"
	grep -q 'enqueue \[#*\.*\] *[0-9]*%' "$T_DIR/tty" || fail "no progress bar: $(cat "$T_DIR/tty")"
	grep -q '3000 enqueued, 0 duplicates, 0 bad lines (of 3000)' "$T_DIR/tty" ||
		fail "no summary under a terminal"
	ok "progress bar on a terminal"
fi

# the store goes away in the middle: what was enqueued is counted, the
# lines whose outcome is unknown are named, exit 69 (no hang)
mkfifo "$T_DIR/fifo"
"$CODEQ" enqueue cut --bulk - <"$T_DIR/fifo" >"$T_DIR/cut.out" 2>"$T_DIR/cut.err" &
bulk_pid=$!
exec 3>"$T_DIR/fifo"
"$PYTHON3" -c 'for i in range(2000): print("{\"payload\": %d}" % i)' >&3
wait_for 20 sh -c "[ \"\$(redis-cli -p $REDIS_PORT hget 'codeq:{cut}:stats' enqueued)\" = 2000 ]" ||
	fail "the first 2000 lines were not enqueued"
stop_redis
"$PYTHON3" -c 'for i in range(1000): print("{\"payload\": %d}" % i)' >&3
exec 3>&-
set +e
wait "$bulk_pid"
rc=$?
set -e
assert_eq "store lost: exit" 69 "$rc"
assert_eq "store lost: counts" "2000 enqueued, 0 duplicates, 0 bad lines (of 3000)" "$(cat "$T_DIR/cut.out")"
grep -Eq '^codeq: enqueue: lines 2001-3000: outcome unknown: store' "$T_DIR/cut.err" ||
	fail "store lost: message: $(cat "$T_DIR/cut.err")"
ok "store lost: $(cat "$T_DIR/cut.err")"
