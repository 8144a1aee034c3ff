#!/bin/sh
# Bad configurations: codeqd --check and codeqd itself refuse each one
# with FILE:LINE and exit 78 before forking anything.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/codeqd/lib.sh"
REDIS_URL=redis://127.0.0.1:1/0

bad() {		# bad WHAT EXPECTED-TEXT: the pool section on stdin
	n=$(echo "$1" | tr -c 'a-z0-9\n' _); f="$T_DIR/bad-$n.conf"
	write_conf "$f"
	line=$(grep -n '@@' "$f" | head -n 1 | cut -d: -f1)
	sed -i 's/ *@@//' "$f"
	for mode in --check --foreground; do
		rc=0
		"$CODEQD" -c "$f" $mode >"$T_DIR/out" 2>&1 || rc=$?
		[ "$rc" = 78 ] || { cat "$T_DIR/out"; fail "$1 ($mode): exit $rc, expected 78"; }
		grep -q "bad-$n.conf:$line:.*$2" "$T_DIR/out" ||
			{ cat "$T_DIR/out"; fail "$1 ($mode): expected bad-$n.conf:$line: ...$2"; }
		grep -q 'codeqd starting' "$T_DIR/out" && fail "$1: started anyway"
	done
	ok "$1: $(head -n 1 "$T_DIR/out")"
}

printf '[pool p]\nqueues = q\nexec = /bin/true\nprocesses = 0 @@\n' | bad "processes 0" "processes"
printf '[pool p]\nqueues = q\nexec = /bin/true\ntimeout = soon @@\n' | bad "bad duration" "timeout"
printf '[pool p]\nqueues = q\nexec = /bin/true\nfrobnicate = 1 @@\n' | bad "unknown key" "frobnicate"
printf '[pool p] @@\nqueues = q\n' | bad "no handler" "handler"
printf '[pool p]\nso = %s/nonexistent.so @@\nqueues = q\n' "$T_DIR" | bad "missing .so" "nonexistent.so"
printf '[pool p]\nexec = /nonexistent/prog @@\nqueues = q\n' | bad "missing program" "nonexistent/prog"
printf '[pool p]\nexec = /bin/true\nqueues = q\nuser = no-such-user-x @@\n' | bad "unknown user" "no-such-user-x"
printf '[pool p]\nexec = /bin/true\nqueues = bad queue! @@\n' | bad "bad queue name" "queues"
printf '[pool p] @@\nso = %s\nqueues = q\n' "$top_builddir/tests/handlers/.libs/test_handler_badabi.so" |
	bad ".so of another ABI version" "ABI version 99, codeqd speaks 1"
printf 'not an ELF file\n' >"$T_DIR/fake.so"
printf '[pool p] @@\nso = %s\nqueues = q\n' "$T_DIR/fake.so" | bad "not a shared object" "dlopen"

write_conf "$T_DIR/good.conf" <<EOC
[pool p]
queues = q
exec = /bin/true
EOC
"$CODEQD" -c "$T_DIR/good.conf" --check >"$T_DIR/out" 2>&1 || fail "good configuration refused: $(cat "$T_DIR/out")"
ok "a good configuration passes --check"
rc=0; "$CODEQD" -c "$T_DIR/nothere.conf" --check >"$T_DIR/out" 2>&1 || rc=$?
assert_eq "missing file: exit" 78 "$rc"
rc=0; "$CODEQD" >/dev/null 2>&1 || rc=$?
assert_eq "no -c: usage exit" 64 "$rc"
