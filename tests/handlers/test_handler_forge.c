/*
 * tests/handlers/test_handler_forge.c - a hostile shared-object handler: it runs inside
 * the worker, so it can write frames on the worker's socket to codeqd.
 * The payload says what to forge:
 *   {"pgid":N}                     HANDLER naming process group N
 *   {"queue":Q,"id":I,"token":T}   CLAIMED of a lease of another pool
 * then the handler kills its own worker (SIGKILL), which makes codeqd
 * kill the reported handler group and give the reported leases back:
 * tests/codeqd/isolation.sh checks that codeqd believed neither.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "codeq.h"
#include "ipc.h"

/* The worker's end of its socket: the number after --fd in its argv. */
static int
worker_fd(void)
{
	char buf[4096], *p, *end = buf;
	FILE *f = fopen("/proc/self/cmdline", "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (p = buf, end = buf + n; p < end; p += strlen(p) + 1)
		if (strcmp(p, "--fd") == 0 && p + strlen(p) + 1 < end)
			return atoi(p + strlen(p) + 1);
	return -1;
}

static void
forge(int fd, json_t *in)
{
	struct ipc_msg m;
	const char *q = json_string_value(json_object_get(in, "queue"));
	const char *id = json_string_value(json_object_get(in, "id"));
	const char *tok = json_string_value(json_object_get(in, "token"));

	memset(&m, 0, sizeof(m));
	if (json_integer_value(json_object_get(in, "pgid")) > 0) {
		m.type = IPC_HANDLER;
		snprintf(m.u.handler.id, sizeof(m.u.handler.id), "forged");
		m.u.handler.pgid = (uint64_t)json_integer_value(
		    json_object_get(in, "pgid"));
	} else if (q != NULL && id != NULL && tok != NULL) {
		m.type = IPC_CLAIMED;
		snprintf(m.u.claimed.queue, sizeof(m.u.claimed.queue), "%s", q);
		snprintf(m.u.claimed.id, sizeof(m.u.claimed.id), "%s", id);
		snprintf(m.u.claimed.token, sizeof(m.u.claimed.token), "%s", tok);
		m.u.claimed.lease_until_ms = 1;
	} else
		return;
	ipc_send(fd, &m, 0);
}

static codeq_handler_outcome
f_handle(void *state, const codeq_handler_task *t, codeq_handler_reply *r)
{
	json_t *in = json_loadb(t->payload, t->payload_len, 0, NULL);
	int fd = worker_fd();

	(void)state;
	(void)r;
	if (in != NULL && fd >= 0)
		forge(fd, in);
	json_decref(in);
	usleep(200000);		/* let codeqd read the frame first */
	kill(getpid(), SIGKILL);
	return CODEQ_HANDLER_FAIL;
}

const codeq_handler codeq_handler_v1 = {
	.abi_version = CODEQ_HANDLER_ABI_VERSION,
	.name = "forge",
	.handle = f_handle,
};
