#!/bin/sh
# tests/storage/kvrocks_commands.sh: every Redis command the code uses must be one that
# KVRocks supports (invariant 6; list in tests/data/kvrocks-supported-commands.txt).
#
# Found as:
#  - Lua: the first argument of every redis.call / redis.pcall and
#    call_list in lib/scripts/*.lua, the shared prelude.lua included (it
#    must be a string literal);
#  - C: the first word of every string literal in lib/ common/ dispatcher/ worker/
#    webhooks/ cli/ that is an upper-case Redis command name
#    (the C code writes command names as literals: "HGETALL %s").
# What a Redis command name is comes from the private redis-server's
# COMMAND LIST, so a command KVRocks lacks cannot hide behind a name this
# test does not know.  Subcommands (SCRIPT LOAD, CLIENT KILL...) are checked
# as pairs when KVRocks' list names that command's subcommands.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/lib.sh"
[ -n "$PYTHON3" ] || skip "python3 not installed"
start_redis
rcli COMMAND LIST >"$T_DIR/redis-commands.txt" || fail "COMMAND LIST"
[ -s "$T_DIR/redis-commands.txt" ] || fail "COMMAND LIST: empty"

"$PYTHON3" - "$top_srcdir" "$T_DIR/redis-commands.txt" <<'PY' || fail "unsupported commands (see above)"
import os, re, sys

top, redis_list = sys.argv[1], sys.argv[2]
redis_cmds = {l.strip().upper() for l in open(redis_list) if l.strip()}
supported = set()
for line in open(os.path.join(top, "tests/data/kvrocks-supported-commands.txt")):
    if line.startswith("#") or not line.strip():
        continue
    supported.add(line.split("\t")[0].strip().upper())
with_subs = {s.split(" ")[0] for s in supported if " " in s}

used = {}          # command -> set of "file" where it is used
bad = []

def use(cmd, where):
    used.setdefault(cmd, set()).add(where)

# Lua scripts, and the prelude the build prepends to each of them.
luadir = os.path.join(top, "lib/scripts")
scanned = set()
for f in sorted(os.listdir(luadir)):
    if not f.endswith(".lua"):
        continue
    scanned.add(f)
    text = open(os.path.join(luadir, f)).read()
    text = re.sub(r"--[^\n]*", "", text)
    # call_list(CMD, key, list) (prelude.lua) is redis.call(CMD, ...) in
    # slices: its callers name the command, and its one redis.call(cmd)
    # is the only one allowed a variable.
    for m in re.finditer(r"(?:redis\.p?call|call_list)\s*\(\s*([^,)]*)", text):
        arg = m.group(1).strip()
        if f == "prelude.lua" and arg == "cmd":
            continue
        lit = re.fullmatch(r"'([^']*)'|\"([^\"]*)\"", arg)
        if not lit:
            bad.append("lib/scripts/%s: redis.call with a non-literal "
                       "command name: %s" % (f, arg))
            continue
        words = (lit.group(1) or lit.group(2)).upper().split()
        use(" ".join(words[:1]), "lib/scripts/" + f)

if "prelude.lua" not in scanned:
    bad.append("lib/scripts/prelude.lua was not scanned")
elif "lib/scripts/prelude.lua" not in used.get("TIME", ()):
    bad.append("TIME not found in lib/scripts/prelude.lua: the scan is broken")

# C sources.
strlit = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
for d in ("lib", "common", "dispatcher", "worker", "webhooks", "cli"):
    base = os.path.join(top, d)
    if not os.path.isdir(base):
        continue
    for root, _, files in os.walk(base):
        for f in sorted(files):
            if not (f.endswith(".c") or f.endswith(".h")):
                continue
            path = os.path.join(root, f)
            rel = os.path.relpath(path, top)
            text = open(path, errors="replace").read()
            text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
            text = re.sub(r"//[^\n]*", "", text)
            text = re.sub(r"^\s*#\s*include[^\n]*", "", text, flags=re.M)
            for m in strlit.finditer(text):
                words = m.group(1).split()
                if not words or not re.fullmatch(r"[A-Z][A-Z_.]+", words[0]):
                    continue
                cmd = words[0]
                if cmd not in redis_cmds:
                    continue
                if cmd in with_subs and len(words) > 1 and \
                   re.fullmatch(r"[A-Z][A-Z_-]+", words[1]):
                    cmd = cmd + " " + words[1]
                use(cmd, rel)

for cmd in sorted(used):
    ok = cmd in supported
    print("%-16s %-3s %s" % (cmd, "ok" if ok else "NO", " ".join(sorted(used[cmd]))))
    if not ok:
        bad.append("%s is not supported by KVRocks (used in %s)" %
                   (cmd, ", ".join(sorted(used[cmd]))))
if not used:
    bad.append("no command found at all: the scan is broken")
for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
ok "every command used is supported by KVRocks"
