#!/bin/sh
# handler.sh - an example exec handler for codeqd (see codeq-handler(7)).
#
# The payload arrives on stdin, the task's metadata in CODEQ_* variables;
# what it prints on stdout is the result (JSON; other text is stored as a
# JSON string) and its exit status says what happened:
#   0 done, 75 retry later, 65 failed for good, anything else: failed,
#   retried with backoff.  The tail of stderr becomes the task's error.
set -eu
payload=$(cat)
case $payload in
*'"fail"'*)	echo "payload asked to fail" >&2; exit 65 ;;
esac
host=$(uname -n)
printf '{"task":"%s","queue":"%s","attempt":%s,"host":"%s","payload":%s}\n' \
	"$CODEQ_TASK_ID" "$CODEQ_QUEUE" "$CODEQ_ATTEMPT" "$host" "${payload:-null}"
