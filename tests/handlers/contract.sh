#!/bin/sh
# contract.sh - an exec handler for tests/codeqd/exec.sh: the payload
# ({"op": ...}) picks what it does, to exercise the exit-code contract.
payload=$(cat)
op=$(printf '%s' "$payload" | sed -n 's/.*"op" *: *"\([a-z0-9_]*\)".*/\1/p')
case $op in
env)	printf '{"id":"%s","queue":"%s","attempt":%s,"max":%s,"deadline":%s,"pool":"%s","payload":%s}\n' \
		"$CODEQ_TASK_ID" "$CODEQ_QUEUE" "$CODEQ_ATTEMPT" "$CODEQ_MAX_ATTEMPTS" \
		"$CODEQ_DEADLINE" "$CODEQ_POOL" "$payload" ;;
text)	echo "plain text, not JSON" ;;
binary)	printf 'a\377b "q"\n' ;;
empty)	: ;;
retry)	if [ "$CODEQ_ATTEMPT" = 1 ]; then echo "busy, later" >&2; exit 75; fi
	echo '"second time lucky"' ;;
perm)	echo "bad input, giving up" >&2; exit 65 ;;
other)	echo "something broke" >&2; exit 3 ;;
signal)	kill -9 $$ ;;
big)	head -c 5000 /dev/zero | tr '\0' x ;;
size)	printf '%s' "$payload" | wc -c ;;
*)	echo "unknown op $op" >&2; exit 65 ;;
esac
