/*
 * client.c - a small producer built on libcodeq alone: it enqueues one
 * task and waits for its result.
 *
 * Build against an installed libcodeq (docs/install.md):
 *
 *   cc -o client client.c $(pkg-config --cflags --libs codeq)
 *
 * Usage:
 *
 *   client [-r URL] [-p PRIORITY] [-w SECONDS] [-k KEY] QUEUE [PAYLOAD]
 *
 * The store URL is -r, else $CODEQ_REDIS_URL, else redis://127.0.0.1:6379/0.
 * PAYLOAD is JSON ("{}" when omitted).  The task id goes to standard
 * error, the result (JSON) to standard output.  Exit status: 0 when the
 * task completed, 1 when it failed or was dead-lettered, 2 when the wait
 * ran out (the task stays queued), 64 for a usage error, 69 when the store
 * refused or could not be reached.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <codeq.h>

#define EX_USAGE	64
#define EX_UNAVAILABLE	69

static void
usage(void)
{
	fprintf(stderr, "usage: client [-r URL] [-p PRIORITY] [-w SECONDS] "
	    "[-k KEY] QUEUE [PAYLOAD]\n");
}

/* A non-negative decimal number no larger than max, or -1. */
static long
number(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > max)
		return -1;
	return v;
}

/* Enqueue the task and wait for it: the whole life of a producer. */
static int
produce(codeq_t *c, const codeq_task_spec *spec, int64_t wait_ms)
{
	char id[CODEQ_ID_MAX];
	codeq_task *t = NULL;
	codeq_error err;
	int duplicate = 0, rc;

	if (codeq_enqueue(c, spec, id, &duplicate, &err) != CODEQ_OK) {
		fprintf(stderr, "client: enqueue: %s\n", err.msg);
		return err.code == CODEQ_EINVAL || err.code == CODEQ_ETOOBIG ?
		    EX_USAGE : EX_UNAVAILABLE;
	}
	fprintf(stderr, "client: task %s%s\n", id,
	    duplicate ? " (already enqueued with this key)" : "");

	rc = codeq_result(c, id, wait_ms, &t, &err);
	if (rc == CODEQ_ETIMEDOUT) {
		fprintf(stderr, "client: %s\n", err.msg);
		return 2;
	}
	if (rc != CODEQ_OK) {
		fprintf(stderr, "client: result: %s\n", err.msg);
		return EX_UNAVAILABLE;
	}
	if (t->status == CODEQ_COMPLETED) {
		printf("%s\n", t->result != NULL ? t->result : "null");
		rc = 0;
	} else {
		fprintf(stderr, "client: task %s %s after %d attempt(s): %s\n",
		    id, codeq_status_name(t->status), t->attempts,
		    t->error != NULL ? t->error : "");
		rc = 1;
	}
	codeq_task_free(t);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *url = getenv("CODEQ_REDIS_URL");
	codeq_task_spec spec = { 0 };
	codeq_t *c = NULL;
	codeq_error err;
	long wait_s = 30, v;
	int ch, rc;

	while ((ch = getopt(argc, argv, "r:p:w:k:")) != -1) {
		switch (ch) {
		case 'r':
			url = optarg;
			break;
		case 'p':
			if ((v = number(optarg, 9)) < 0) {
				fprintf(stderr, "client: -p: priority must be "
				    "0-9, got '%s'\n", optarg);
				return EX_USAGE;
			}
			spec.priority = (int)v;
			break;
		case 'w':
			if ((wait_s = number(optarg, 86400)) < 0) {
				fprintf(stderr, "client: -w: seconds must be "
				    "0-86400, got '%s'\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'k':
			spec.idempotency_key = optarg;
			break;
		default:
			usage();
			return EX_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2) {
		usage();
		return EX_USAGE;
	}
	spec.queue = argv[0];
	spec.payload = argc == 2 ? argv[1] : NULL;
	if (url == NULL || *url == '\0')
		url = "redis://127.0.0.1:6379/0";

	if (codeq_connect(url, NULL, &c, &err) != CODEQ_OK) {
		fprintf(stderr, "client: %s\n", err.msg);
		return err.code == CODEQ_EINVAL ? EX_USAGE : EX_UNAVAILABLE;
	}
	rc = produce(c, &spec, (int64_t)wait_s * 1000);
	codeq_close(c);
	return rc;
}
