#!/bin/sh
# metrics_promtool: the exposition, with every codeq family populated,
# passes `promtool check metrics` (Prometheus' own linter: names, HELP,
# TYPE, suffixes, histogram shape).
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

command -v promtool >/dev/null 2>&1 || skip "promtool not installed (Debian package prometheus)"
"$top_builddir/tests/metrics/sample" >"$T_DIR/expo.txt" || fail "metrics_sample failed"
grep -q '^codeq_build_info{version="' "$T_DIR/expo.txt" || fail "no build info in the exposition"
if ! promtool check metrics <"$T_DIR/expo.txt" >"$T_DIR/promtool.log" 2>&1; then
	cat "$T_DIR/promtool.log"
	fail "promtool check metrics rejected the exposition"
fi
ok "promtool check metrics accepts $(grep -c '^# TYPE' "$T_DIR/expo.txt") families"
