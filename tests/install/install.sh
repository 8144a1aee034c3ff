#!/bin/sh
# tests/install/install.sh: the release as an operator and a library user get it.
# `make install DESTDIR=...` from the build tree, then every installed file
# is checked where the configured directories say it goes: codeq, codeqd,
# libcodeq.so with its soname, its libraries named (libcurl not among
# them) and only codeq_* exported (exactly the functions codeq.h
# declares), codeq.h, codeq.pc, the man pages (rendered
# without warnings), the example configuration (codeqd --check), the
# example .so handler, the systemd units (their paths, systemd-analyze
# verify when available), the documentation in docdir, the Prometheus
# alerts and the Grafana dashboard in pkgdatadir.  examples/client.c is then built against the
# installed header and library with pkg-config, and run against the
# installed codeqd and codeq on a private redis-server.  Last, `make
# uninstall` must leave no file behind.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

[ -f "$top_builddir/Makefile" ] || skip "no Makefile in $top_builddir"
command -v pkg-config >/dev/null 2>&1 || skip "pkg-config not installed"
command -v readelf >/dev/null 2>&1 || skip "readelf (binutils) not installed"

# mkvar NAME: a variable of the build's Makefile, in shell syntax.  The
# directory variables are ${prefix}-relative, as configure wrote them.
mkvar() {
	sed -n "s/^$1 = //p" "$top_builddir/Makefile" | head -n 1 |
		sed 's/\$(\([A-Za-z_]*\))/${\1}/g'
}
for v in PACKAGE_TARNAME PACKAGE_VERSION prefix exec_prefix datarootdir \
    datadir bindir sbindir libdir includedir mandir sysconfdir pkglibdir \
    pkgdatadir docdir systemdsystemunitdir CC SAN_CFLAGS; do
	eval "$v=\"$(mkvar $v)\""
done
[ -n "$prefix" ] || fail "no prefix in $top_builddir/Makefile"

# The sub-make must not join the test harness's jobserver or see its
# TESTS=... arguments.
D="$T_DIR/dest"
submake() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" -C "$top_builddir" "$@"
}
submake install DESTDIR="$D" >"$T_DIR/install.log" 2>&1 ||
	{ tail -n 30 "$T_DIR/install.log"; fail "make install DESTDIR=... failed"; }
ok "make install DESTDIR=\$tmp"

# ---- programs -----------------------------------------------------------
for f in "$bindir/codeq" "$sbindir/codeqd"; do
	[ -x "$D$f" ] || fail "$f not installed (or not executable)"
done
v=$("$D$sbindir/codeqd" --version 2>&1) || fail "codeqd --version failed"
case $v in *"$PACKAGE_VERSION"*) ;; *) fail "codeqd --version: '$v'" ;; esac
"$D$bindir/codeq" --help >/dev/null 2>&1 || fail "codeq --help failed"
ok "codeq in \$bindir, codeqd in \$sbindir ($v)"

# ---- libcodeq -----------------------------------------------------------
lib="$D$libdir/libcodeq.so"
[ -e "$lib" ] || fail "$libdir/libcodeq.so not installed"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
assert_eq "libcodeq soname" "libcodeq.so.0" "$soname"
[ -e "$D$libdir/$soname" ] || fail "$libdir/$soname (the soname's file) not installed"
[ -z "$(readelf -d "$lib" | grep -E '\((RPATH|RUNPATH)\)')" ] ||
	fail "libcodeq.so carries an rpath: $(readelf -d "$lib" | grep -E 'R(UN)?PATH')"
# A producer gets hiredis and jansson, not libcurl, libcrypto and their
# TLS stack (the webhook URL check is libcodeq's own); and every symbol the
# library uses comes from a library it names, not from one that happened
# to bring it in.
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | paste -sd ' ')
case " $needed" in *" libcurl"*|*" libcrypto"*|*" libssl"*)
	fail "libcodeq.so needs a TLS library: $needed" ;; esac
undefined=$(ldd -r "$lib" 2>&1 | grep 'undefined symbol' || true)
[ -z "$undefined" ] || fail "libcodeq.so does not name the library of: $undefined"
ok "libcodeq.so needs only $needed (no libcurl, no libcrypto)"
nm -D --defined-only "$lib" | awk '{ print $3 }' | grep -v '^$' | sort -u >"$T_DIR/exported"
grep -v '^codeq_' "$T_DIR/exported" >"$T_DIR/foreign" || true
[ ! -s "$T_DIR/foreign" ] ||
	fail "libcodeq.so exports symbols outside codeq_*: $(head -n 10 "$T_DIR/foreign" | tr '\n' ' ')"
ok "libcodeq.so exports only codeq_* ($(wc -l <"$T_DIR/exported") symbols)"
# Every function codeq.h declares is in the library, and nothing else.
grep -oE '\bcodeq_[a-z0-9_]+\(' "$D$includedir/codeq.h" | tr -d '(' |
	sort -u >"$T_DIR/declared"
nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' | sort -u >"$T_DIR/functions"
if ! cmp -s "$T_DIR/declared" "$T_DIR/functions"; then
	echo "declared in codeq.h (<) vs exported by libcodeq.so (>):"
	diff "$T_DIR/declared" "$T_DIR/functions" || true
	fail "codeq.h and libcodeq.so disagree"
fi
ok "libcodeq.so exports exactly the $(wc -l <"$T_DIR/declared") functions of codeq.h"

cmp -s "$top_srcdir/include/codeq.h" "$D$includedir/codeq.h" ||
	fail "$includedir/codeq.h missing or not include/codeq.h"
ok "codeq.h in \$includedir"

export PKG_CONFIG_SYSROOT_DIR="$D" PKG_CONFIG_PATH="$D$libdir/pkgconfig"
[ -f "$D$libdir/pkgconfig/codeq.pc" ] || fail "$libdir/pkgconfig/codeq.pc not installed"
assert_eq "pkg-config --modversion codeq" "$PACKAGE_VERSION" "$(pkg-config --modversion codeq)"
cflags=$(pkg-config --cflags codeq) || fail "pkg-config --cflags codeq"
libs=$(pkg-config --libs codeq) || fail "pkg-config --libs codeq"
case " $libs " in *" -L$D$libdir "*) ;; *) fail "pkg-config --libs codeq: '$libs'" ;; esac

# ---- man pages ------------------------------------------------------------
for m in man1/codeq.1 man5/codeq.conf.5 man7/codeq-handler.7 man8/codeqd.8; do
	f="$D$mandir/$m"
	[ -f "$f" ] || fail "$mandir/$m not installed"
	if command -v groff >/dev/null 2>&1; then
		w=$(groff -mandoc -ww -z "$f" 2>&1)
		[ -z "$w" ] || fail "groff warnings for $m: $w"
	fi
	if command -v man >/dev/null 2>&1; then
		w=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >"$T_DIR/man.txt")
		[ -z "$w" ] || fail "man --warnings for $m: $w"
		grep -q '^NAME' "$T_DIR/man.txt" || fail "$m renders without a NAME section"
	fi
done
ok "man pages codeq(1) codeq.conf(5) codeq-handler(7) codeqd(8) render without warnings"

# ---- documentation, alerts, dashboard -------------------------------------
for f in install.md storage.md webhooks.md process-model.md metrics.md runbook.md; do
	cmp -s "$top_srcdir/docs/$f" "$D$docdir/$f" || fail "$docdir/$f missing or not docs/$f"
done
ok "install.md storage.md webhooks.md process-model.md metrics.md runbook.md in \$docdir"
for f in prometheus/codeq-alerts.yml grafana/codeq-dashboard.json; do
	cmp -s "$top_srcdir/etc/$f" "$D$pkgdatadir/${f##*/}" ||
		fail "$pkgdatadir/${f##*/} missing or not etc/$f"
done
"$PYTHON3" -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(not d.get("panels"))' \
	"$D$pkgdatadir/codeq-dashboard.json" || fail "installed dashboard: not JSON with panels"
grep -q '^groups:' "$D$pkgdatadir/codeq-alerts.yml" || fail "installed alerts: no rule groups"
ok "codeq-alerts.yml and codeq-dashboard.json in \$pkgdatadir ($pkgdatadir)"

# ---- configuration, handler, units ---------------------------------------
conf="$D$sysconfdir/codeq.conf"
cmp -s "$top_srcdir/etc/codeq.conf" "$conf" || fail "$sysconfdir/codeq.conf missing or not etc/codeq.conf"
out=$("$D$sbindir/codeqd" --check -c "$conf" 2>&1) || fail "codeqd --check on the installed example: $out"
ok "codeqd --check -c $sysconfdir/codeq.conf: $out"
so="$D$pkglibdir/example_handler.so"
[ -f "$so" ] || fail "$pkglibdir/example_handler.so not installed"

if [ -n "$systemdsystemunitdir" ] && [ "$systemdsystemunitdir" != no ]; then
	for u in codeqd.service codeqd@.service; do
		f="$D$systemdsystemunitdir/$u"
		[ -f "$f" ] || fail "$systemdsystemunitdir/$u not installed"
		! grep -n '@[a-z_]*@' "$f" || fail "$u: unsubstituted @...@"
		grep -q "^ExecStart=$sbindir/codeqd -c $sysconfdir/" "$f" ||
			fail "$u: ExecStart does not run $sbindir/codeqd with a file of $sysconfdir: $(grep ExecStart= "$f")"
	done
	grep -q "^ExecStart=.* -c $sysconfdir/codeq.conf " "$D$systemdsystemunitdir/codeqd.service" ||
		fail "codeqd.service does not read $sysconfdir/codeq.conf"
	ok "systemd units in \$systemdsystemunitdir name \$sbindir/codeqd and \$sysconfdir"
	if command -v systemd-analyze >/dev/null 2>&1; then
		# verify checks that the programs exist: point a copy at DESTDIR.
		mkdir "$T_DIR/units"
		for u in codeqd.service codeqd@.service; do
			sed -e "s|=$sbindir/|=$D$sbindir/|g" -e "s| $sysconfdir/| $D$sysconfdir/|g" \
				"$D$systemdsystemunitdir/$u" >"$T_DIR/units/$u"
		done
		for u in codeqd.service codeqd@test.service; do
			w=$(MANPATH="$D$mandir" systemd-analyze verify "$T_DIR/units/$u" 2>&1) ||
				fail "systemd-analyze verify $u: $w"
			[ -z "$w" ] || fail "systemd-analyze verify $u: $w"
		done
		ok "systemd-analyze verify codeqd.service codeqd@test.service"
	else
		echo "# systemd-analyze not installed: units not verified"
	fi
fi

# ---- a producer built against the installed library -------------------
client="$T_DIR/client"
# A sanitizer build's libcodeq.so needs its runtime first in the program.
# shellcheck disable=SC2086
${CC:-cc} $SAN_CFLAGS -Wall -Wextra -Werror -o "$client" "$top_srcdir/examples/client.c" \
	$cflags $libs -Wl,-rpath,"$D$libdir" >"$T_DIR/cc.log" 2>&1 ||
	{ cat "$T_DIR/cc.log"; fail "examples/client.c does not build against the installed libcodeq"; }
ldd "$client" | grep -q "libcodeq.so.0 => $D$libdir/libcodeq.so.0" ||
	fail "client does not load the installed libcodeq: $(ldd "$client" | grep codeq)"
ok "examples/client.c builds with \$(pkg-config --cflags --libs codeq) and loads the installed libcodeq"

rc=0; "$client" -r redis://127.0.0.1:1/0 q 2>"$T_DIR/err" || rc=$?
assert_eq "client, store unreachable: exit" 69 "$rc"

start_redis
# The installed example configuration, on the private store, with the
# installed .so handler as a second pool and no metrics listener.
sed -e "s|^url = .*|url = $REDIS_URL|" -e "s|^listen = .*|listen = off|" "$conf" >"$T_DIR/codeq.conf"
printf '\n[pool shout]\nqueues = shout\nso = %s\nhandler_config = by the installed handler\nprocesses = 1\n' \
	"$so" >>"$T_DIR/codeq.conf"
"$D$sbindir/codeqd" --check -c "$T_DIR/codeq.conf" >/dev/null 2>&1 ||
	fail "codeqd --check on the example with the installed .so: $("$D$sbindir/codeqd" --check -c "$T_DIR/codeq.conf" 2>&1)"
"$D$sbindir/codeqd" -c "$T_DIR/codeq.conf" --foreground >"$T_DIR/codeqd.log" 2>&1 &
codeqd_pid=$!
t_track "$codeqd_pid"
wait_for 30 grep -q "pid=$codeqd_pid msg=\"codeqd ready\"" "$T_DIR/codeqd.log" ||
	fail "the installed codeqd did not become ready"
ok "the installed codeqd runs the installed example configuration"

# json_eq WHAT EXPECTED ACTUAL: equal as JSON values.
json_eq() {
	"$PYTHON3" -c 'import json, sys; sys.exit(json.loads(sys.argv[1]) != json.loads(sys.argv[2]))' \
		"$2" "$3" || fail "$1: expected $2, got $3"
	ok "$1 = $3"
}

out=$("$client" -w 60 echo '{"hello":"installed"}' 2>"$T_DIR/err") ||
	fail "client on the echo pool: exit $?: $(cat "$T_DIR/err")"
json_eq "client result through the exec pool (cat)" '{"hello":"installed"}' "$out"
grep -q '^client: task echo:[0-9]*$' "$T_DIR/err" || fail "client did not name its task: $(cat "$T_DIR/err")"

out=$("$client" -w 60 -p 9 shout '{"text":"hello world"}' 2>"$T_DIR/err") ||
	fail "client on the .so pool: exit $?: $(cat "$T_DIR/err")"
json_eq "client result through the installed .so" \
	'{"upper":"HELLO WORLD","words":2,"by":"by the installed handler","attempt":1}' "$out"

rc=0; "$client" -w 60 shout '{"fail":"no thanks"}' >/dev/null 2>"$T_DIR/err" || rc=$?
assert_eq "client, task failed permanently: exit" 1 "$rc"
grep -q 'failed .*no thanks' "$T_DIR/err" || fail "client did not show the error: $(cat "$T_DIR/err")"

kill -TERM "$codeqd_pid"
rc=0; wait "$codeqd_pid" || rc=$?
assert_eq "installed codeqd after SIGTERM: exit" 0 "$rc"
# A sanitizer build's children report in codeqd's log, not in its status.
! grep -Eq 'ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:' "$T_DIR/codeqd.log" ||
	fail "sanitizer report in the installed codeqd's log"

# No daemon: the installed codeq CLI plays the worker.
"$client" -w 60 manual '{"n":7}' >"$T_DIR/manual.out" 2>"$T_DIR/manual.err" &
client_pid=$!
t_track "$client_pid"
codeq="$D$bindir/codeq"
wait_for 30 sh -c "'$codeq' --redis '$REDIS_URL' claim manual --json >'$T_DIR/claim.json'" ||
	fail "codeq claim never found the client's task"
id=$("$PYTHON3" -c 'import json, sys; print(json.load(sys.stdin)["id"])' <"$T_DIR/claim.json")
token=$("$PYTHON3" -c 'import json, sys; print(json.load(sys.stdin)["lease_token"])' <"$T_DIR/claim.json")
"$codeq" --redis "$REDIS_URL" complete "$id" --token "$token" --result '{"n":7,"by":"codeq"}' >/dev/null ||
	fail "codeq complete $id"
rc=0; wait "$client_pid" || rc=$?
assert_eq "client answered by codeq claim/complete: exit" 0 "$rc"
json_eq "client result from codeq complete" '{"n":7,"by":"codeq"}' "$(cat "$T_DIR/manual.out")"

rc=0; "$client" -w 1 nobody-serves-this 2>"$T_DIR/err" || rc=$?
assert_eq "client, wait ran out: exit" 2 "$rc"

# ---- uninstall ------------------------------------------------------------
submake uninstall DESTDIR="$D" >"$T_DIR/uninstall.log" 2>&1 ||
	{ tail -n 30 "$T_DIR/uninstall.log"; fail "make uninstall DESTDIR=... failed"; }
left=$(find "$D" ! -type d | sed "s|^$D||")
[ -z "$left" ] || fail "make uninstall left: $left"
ok "make uninstall removes every installed file"
