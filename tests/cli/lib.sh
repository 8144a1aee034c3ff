# tests/cli/lib.sh - helpers for the tests of the codeq command, sourced
# after tests/lib.sh.  Not a test itself.

[ -x "$CODEQ" ] || fail "$CODEQ not built"

# run_cq CMD...: runs codeq, keeps stdout in $OUT, stderr in $ERR and the
# exit status in $RC, never failing the test by itself.
run_cq() {
	set +e
	"$CODEQ" "$@" >"$T_DIR/out" 2>"$T_DIR/err"
	RC=$?
	set -e
	OUT=$(cat "$T_DIR/out")
	ERR=$(cat "$T_DIR/err")
}

# cq CMD...: codeq must succeed; prints its stdout.
cq() {
	run_cq "$@"
	[ "$RC" -eq 0 ] || fail "codeq $*: exit $RC: $ERR"
	printf '%s\n' "$OUT"
}

# expect STATUS 'MESSAGE' CMD...: codeq must exit STATUS and print exactly
# one line on stderr, the one given.
expect() {
	want_rc=$1 want_err=$2
	shift 2
	run_cq "$@"
	[ "$RC" -eq "$want_rc" ] ||
		fail "codeq $*: expected exit $want_rc, got $RC (stderr: $ERR)"
	[ "$ERR" = "$want_err" ] ||
		fail "codeq $*: expected stderr '$want_err', got '$ERR'"
	ok "$(echo "codeq $*" | cut -c1-100) -> $RC: $ERR"
}

# expect_match STATUS PATTERN CMD...: same with a grep -E pattern.
expect_match() {
	want_rc=$1 pat=$2
	shift 2
	run_cq "$@"
	[ "$RC" -eq "$want_rc" ] ||
		fail "codeq $*: expected exit $want_rc, got $RC (stderr: $ERR)"
	printf '%s\n' "$ERR" | grep -Eq -- "$pat" ||
		fail "codeq $*: stderr '$ERR' does not match '$pat'"
	ok "$(echo "codeq $*" | cut -c1-100) -> $RC: $ERR"
}

# jget EXPR: a field of the JSON on stdin, e.g. jget '["id"]'.
jget() {
	"$PYTHON3" -c 'import json, sys
v = eval("json.load(sys.stdin)" + sys.argv[1])
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1"
}

# jlines EXPR: the field of each JSON object on stdin (JSON Lines), one per
# line.
jlines() {
	"$PYTHON3" -c 'import json, sys
for line in sys.stdin:
    if line.strip():
        print(eval("json.loads(line)" + sys.argv[1]))' "$1"
}
