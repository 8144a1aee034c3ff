/*
 * tests/unit/ipc_fuzz.c - deterministic fuzz test of the IPC decoder (common/ipc.c).
 *
 * Every message type round-trips; then every truncation, hundreds of
 * thousands of mutations of valid frames, random frames and hand-made
 * hostile headers are decoded.  The decoder must either reject a frame or
 * return a message that encodes again; it must never crash, read past the
 * frame (ASan) or allocate what the frame claims without having it.  The
 * PRNG seed is fixed, so a failure reproduces.
 */
#include "config.h"

#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"

static int failures;

#define CHECK(c, ...) do { if (!(c)) { failures++; \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static size_t
samples(struct ipc_msg *v)
{
	size_t n = 0;

	memset(v, 0, sizeof(struct ipc_msg) * 12);
	v[n].type = IPC_READY; v[n++].u.ready.pid = 4242;
	v[n++].type = IPC_IDLE;
	v[n].type = IPC_CLAIMED;
	strcpy(v[n].u.claimed.queue, "emails");
	strcpy(v[n].u.claimed.id, "emails:42");
	strcpy(v[n].u.claimed.token, "1234567");
	v[n].u.claimed.lease_until_ms = 1700000000123ULL;
	v[n++].u.claimed.deadline_ms = 1700000000999ULL;
	v[n].type = IPC_HANDLER;
	strcpy(v[n].u.handler.id, "emails:42"); v[n++].u.handler.pgid = 31337;
	v[n].type = IPC_DONE;
	strcpy(v[n].u.done.id, "emails:42"); v[n++].u.done.outcome = IPC_OUT_STALE;
	v[n].type = IPC_COUNTERS;
	ipc_counters_add(&v[n], "tasks_completed", 7);
	ipc_counters_add(&v[n], "handler_timeouts", UINT64_MAX);
	n++;
	v[n].type = IPC_WAKE; strcpy(v[n++].u.wake.queue, "q.a-b_c");
	v[n++].type = IPC_SHUTDOWN;
	v[n++].type = IPC_ABORT;
	v[n].type = IPC_RELOAD;
	v[n].u.reload.log_level = 3;
	v[n].u.reload.retention_ms = 604800000;
	v[n].u.reload.max_payload = 1048576;
	v[n].u.reload.connect_timeout_ms = 2000;
	v[n++].u.reload.command_timeout_ms = UINT64_MAX;
	v[n].type = IPC_LEASE_LOST; strcpy(v[n].u.lease_lost.id, "q:1");
	strcpy(v[n++].u.lease_lost.token, "77");
	return n;
}

static void
roundtrip(const struct ipc_msg *m)
{
	char buf[IPC_MAX_FRAME], err[128];
	struct ipc_msg out;
	size_t len;
	int rc;

	rc = ipc_encode(m, buf, sizeof(buf), &len);
	CHECK(rc == IPC_OK, "encode %s: %d", ipc_type_name(m->type), rc);
	rc = ipc_decode(buf, len, &out, err, sizeof(err));
	CHECK(rc == IPC_OK, "decode %s: %s", ipc_type_name(m->type), err);
	CHECK(memcmp(m, &out, sizeof(out)) == 0, "%s does not round-trip",
	    ipc_type_name(m->type));
}

/* Decodes a frame; an accepted frame must encode again. */
static int
try(const char *buf, size_t len)
{
	char out[IPC_MAX_FRAME], err[128];
	struct ipc_msg m;
	size_t olen;
	int rc;

	rc = ipc_decode(buf, len, &m, err, sizeof(err));
	CHECK(rc == IPC_OK || rc == IPC_EMALFORMED, "decode returned %d", rc);
	if (rc == IPC_OK)
		CHECK(ipc_encode(&m, out, sizeof(out), &olen) == IPC_OK,
		    "accepted %s does not encode", ipc_type_name(m.type));
	return rc;
}

static void
hostile(void)
{
	static const struct { const char *what; const char *b; size_t n; } v[] = {
		{ "array32 of 2^32-1", "\xdd\xff\xff\xff\xff\x03", 6 },
		{ "map32 of 2^32-1", "\x92\x06\xdf\xff\xff\xff\xff", 7 },
		{ "str32 of 2^32-1", "\x92\x10\xdb\xff\xff\xff\xff" "abc", 10 },
		{ "bin32 huge", "\x92\x10\xc6\x7f\xff\xff\xff", 7 },
		{ "ext32 huge", "\x92\x10\xc9\x7f\xff\xff\xff\x01", 8 },
		{ "never-used byte", "\x91\xc1", 2 },
		{ "deep nesting", "\x91\x91\x91\x91\x91\x91\x91\x01", 8 },
		{ "trailing bytes", "\x91\x02\x00", 3 },
		{ "empty", "", 0 },
		{ "type not uint", "\x91\xa1x", 3 },
		{ "unknown type", "\x91\x63", 2 },
		{ "IDLE with a field", "\x92\x02\x01", 3 },
		{ "WAKE empty queue", "\x92\x10\xa0", 3 },
		{ "WAKE queue with NUL", "\x92\x10\xa2q\x00", 5 },
		{ "WAKE queue as int", "\x92\x10\x05", 3 },
		{ "DONE bad outcome", "\x93\x05\xa3q:1\x09", 7 },
		{ "READY pid 0", "\x92\x01\x00", 3 },
		{ "RELOAD as a map (its old form)", "\x92\x13\x80", 3 },
		{ "RELOAD a field short", "\x95\x13\x01\x02\x03\x04", 6 },
		{ "RELOAD a field as str", "\x96\x13\x01\x02\xa1x\x04\x05", 8 },
		{ "RELOAD a negative field", "\x96\x13\x01\x02\x03\xff\x05", 7 },
		{ "READY negative pid", "\x92\x01\xff", 3 },
		{ "HANDLER pgid 1", "\x93\x04\xa3q:1\x01", 7 },
		{ "COUNTERS value str", "\x92\x06\x81\xa1n\xa1v", 6 },
		{ "not an array", "\x81\x01\x02", 3 },
		{ "float type", "\x91\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", 10 },
	};
	char big[300];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		CHECK(try(v[i].b, v[i].n) == IPC_EMALFORMED, "accepted: %s",
		    v[i].what);
	/* A queue name one byte over the buffer. */
	big[0] = (char)0x92; big[1] = 0x10; big[2] = (char)0xd9;
	big[3] = (char)IPC_QUEUE_MAX;
	memset(big + 4, 'q', IPC_QUEUE_MAX);
	CHECK(try(big, 4 + IPC_QUEUE_MAX) == IPC_EMALFORMED, "long queue accepted");
	big[3] = (char)(IPC_QUEUE_MAX - 1);
	CHECK(try(big, 3 + IPC_QUEUE_MAX) == IPC_OK, "longest queue rejected");
}

static void
mutate(const struct ipc_msg *v, size_t nv, long rounds)
{
	char good[IPC_MAX_FRAME], buf[IPC_MAX_FRAME];
	size_t glen, len, k, i, pos;
	long r, accepted = 0;

	for (r = 0; r < rounds; r++) {
		if (ipc_encode(&v[rnd() % nv], good, sizeof(good), &glen) != IPC_OK)
			abort();
		memcpy(buf, good, glen);
		len = glen;
		k = 1 + rnd() % 4;
		for (i = 0; i < k; i++) {
			pos = rnd() % len;
			switch (rnd() % 5) {
			case 0: buf[pos] ^= (char)(1u << (rnd() % 8)); break;
			case 1: buf[pos] = (char)rnd(); break;
			case 2: if (len > 1) len = 1 + rnd() % len; break;
			case 3:		/* insert a byte */
				if (len < sizeof(buf) - 1) {
					memmove(buf + pos + 1, buf + pos, len - pos);
					buf[pos] = (char)rnd();
					len++;
				}
				break;
			case 4:		/* interesting values */
				buf[pos] = (char)"\xdd\xdf\xdb\xc6\xc9\xff\x00\x7f\xcf"[rnd() % 9];
				break;
			}
		}
		if (try(buf, len) == IPC_OK)
			accepted++;
	}
	printf("ok - %ld mutated frames decoded without a crash (%ld accepted)\n",
	    rounds, accepted);
}

static void
random_frames(long rounds)
{
	char buf[512];
	size_t len, i;
	long r;

	for (r = 0; r < rounds; r++) {
		len = rnd() % sizeof(buf);
		for (i = 0; i < len; i++)
			buf[i] = (char)rnd();
		if (len > 0 && rnd() % 2)
			buf[0] = (char)(0x90 | (rnd() % 7));	/* a plausible array */
		try(buf, len);
	}
	printf("ok - %ld random frames\n", rounds);
}

static void
sockets(const struct ipc_msg *v, size_t nv)
{
	static char big[IPC_MAX_FRAME + 100];
	struct ipc_msg m;
	char err[128];
	int fds[2];
	size_t i;

	CHECK(ipc_pair(fds) == IPC_OK, "socketpair");
	for (i = 0; i < nv; i++) {
		CHECK(ipc_send(fds[0], &v[i], 0) == IPC_OK, "send");
		CHECK(ipc_recv(fds[1], &m, err, sizeof(err)) == IPC_OK, "recv: %s", err);
		CHECK(memcmp(&m, &v[i], sizeof(m)) == 0, "socket round trip");
	}
	/* An over-long datagram is seen whole (MSG_TRUNC) and rejected. */
	memset(big, 0x90, sizeof(big));
	CHECK(send(fds[0], big, sizeof(big), 0) == (ssize_t)sizeof(big), "send big");
	CHECK(ipc_recv(fds[1], &m, err, sizeof(err)) == IPC_EMALFORMED,
	    "over-long frame accepted");
	CHECK(ipc_send(fds[0], &v[1], 0) == IPC_OK, "send after big");
	CHECK(ipc_recv(fds[1], &m, err, sizeof(err)) == IPC_OK &&
	    m.type == v[1].type, "the next frame is intact");
	close(fds[0]);
	CHECK(ipc_recv(fds[1], &m, err, sizeof(err)) == IPC_EOF, "EOF");
	close(fds[1]);
	printf("ok - frames over a SEQPACKET socketpair, over-long frame rejected\n");
}

int
main(int argc, char **argv)
{
	struct ipc_msg v[12];
	size_t nv, i, j, len;
	char buf[IPC_MAX_FRAME];
	long rounds = argc > 1 ? atol(argv[1]) : 200000;

	nv = samples(v);
	for (i = 0; i < nv; i++)
		roundtrip(&v[i]);
	printf("ok - %zu message types round-trip\n", nv);
	for (i = 0; i < nv; i++) {
		if (ipc_encode(&v[i], buf, sizeof(buf), &len) != IPC_OK)
			abort();
		for (j = 0; j < len; j++)
			CHECK(try(buf, j) == IPC_EMALFORMED, "%s truncated to %zu accepted",
			    ipc_type_name(v[i].type), j);
	}
	printf("ok - every truncation rejected\n");
	CHECK(ipc_encode(&v[2], buf, 8, &len) == IPC_ETOOBIG, "small buffer");
	hostile();
	printf("ok - hostile headers rejected\n");
	mutate(v, nv, rounds);
	random_frames(rounds / 4);
	sockets(v, nv);
	if (failures) {
		printf("%d failures\n", failures);
		return 1;
	}
	return 0;
}
