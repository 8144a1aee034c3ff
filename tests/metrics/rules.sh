#!/bin/sh
# metrics_rules: the alert rules load (promtool check rules) and fire as
# designed (promtool test rules, tests/data/codeq-alerts-test.yml); the
# Grafana dashboard is valid JSON; every codeq_* metric named by the
# rules, the dashboard and docs/metrics.md exists in the exposition, and
# every metric of the exposition is documented.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"

command -v promtool >/dev/null 2>&1 || skip "promtool not installed (Debian package prometheus)"
[ -n "$PYTHON3" ] || skip "python3 not installed"
rules="$top_srcdir/etc/prometheus/codeq-alerts.yml"
dash="$top_srcdir/etc/grafana/codeq-dashboard.json"
doc="$top_srcdir/docs/metrics.md"

promtool check rules "$rules" >"$T_DIR/check.log" 2>&1 || { cat "$T_DIR/check.log"; fail "promtool check rules"; }
ok "alert rules load"
(cd "$top_srcdir/tests/data" && promtool test rules codeq-alerts-test.yml) >"$T_DIR/test.log" 2>&1 ||
	{ cat "$T_DIR/test.log"; fail "promtool test rules"; }
ok "alert rules fire as the unit tests expect"
"$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["panels"] and d["title"], "empty dashboard"
for p in d["panels"]:
    for t in p.get("targets", []):
        assert t["expr"].strip(), "panel %r has an empty query" % p["title"]' "$dash" ||
	fail "the dashboard is not valid JSON or has empty queries"
ok "dashboard is valid JSON"

"$top_builddir/tests/metrics/sample" | sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' | sort -u >"$T_DIR/exposed"
names() { grep -oP 'codeq_[a-z_]*[a-z](?![a-z_.])' "$@" | sed 's/_\(bucket\|sum\|count\)$//' | sort -u; }
for f in "$rules" "$dash" "$doc"; do
	names "$f" >"$T_DIR/used"
	missing=$(comm -23 "$T_DIR/used" "$T_DIR/exposed")
	[ -z "$missing" ] || fail "$(basename "$f") names metrics that do not exist: $missing"
done
ok "rules, dashboard and docs name only existing metrics"
undocumented=$(comm -23 "$T_DIR/exposed" "$(names "$doc" >"$T_DIR/doc"; echo "$T_DIR/doc")")
[ -z "$undocumented" ] || fail "docs/metrics.md does not document: $undocumented"
ok "every exposed metric is documented in docs/metrics.md"
