/*
 * ipc.h - messages between codeqd (the dispatcher) and its children.
 *
 * Each child has one AF_UNIX SOCK_SEQPACKET socketpair with the parent.
 * SEQPACKET keeps datagram boundaries, so one send() is one frame and one
 * frame is exactly one msgpack array:
 *
 *	[type, field, field, ...]
 *
 * with the fields listed for each type below (all strings are msgpack str,
 * all numbers unsigned integers).  A frame is at most IPC_MAX_FRAME bytes;
 * the decoder checks the frame's structure against its length before
 * msgpack allocates anything, then checks the type, the number of fields,
 * each field's msgpack type and each string's length, and rejects the frame
 * (IPC_EMALFORMED) on the first mismatch.  Decoded strings are copied into
 * fixed, NUL-terminated buffers: a message never points into the frame.
 *
 * This header is the one list of every message (docs/process-model.md
 * repeats it for readers).
 */
#ifndef CODEQ_IPC_H
#define CODEQ_IPC_H

#include <stddef.h>
#include <stdint.h>

#define IPC_MAX_FRAME		65536
#define IPC_MAX_DEPTH		4	/* [type, {counters}] needs 2 */
#define IPC_QUEUE_MAX		128	/* buffer sizes, NUL included */
#define IPC_ID_MAX		128	/* = CODEQ_ID_MAX */
#define IPC_TOKEN_MAX		64
#define IPC_NAME_MAX		64
#define IPC_MAX_COUNTERS	64

enum ipc_type {
	/* child -> dispatcher */
	IPC_READY = 1,		/* [1, pid]            set up (common/child.h); the store comes later */
	IPC_IDLE = 2,		/* [2]                 nothing to claim: blocking on the socket */
	IPC_CLAIMED = 3,	/* [3, queue, id, token, lease_until_ms, deadline_ms] */
	IPC_HANDLER = 4,	/* [4, id, pgid]       exec handler started in process group pgid */
	IPC_DONE = 5,		/* [5, id, outcome]    the task left this worker (enum ipc_outcome) */
	IPC_COUNTERS = 6,	/* [6, {name: uint64}] absolute counter values, about once a second */
	/* dispatcher -> child */
	IPC_WAKE = 16,		/* [16, queue]         work became ready in queue */
	IPC_SHUTDOWN = 17,	/* [17]                finish the running task, claim no more, exit 0 */
	IPC_ABORT = 18,		/* [18]                stop the handler now, give the task back, exit */
	IPC_RELOAD = 19,	/* [19, log_level, retention_ms, max_payload, connect_timeout_ms,
				   command_timeout_ms]  configuration reloaded: the settings
				   that change without a restart (u.reload) */
	IPC_LEASE_LOST = 20,	/* [20, id, token]     heartbeat refused: stop that task's handler,
				   abandon its result (someone else owns the task) */
};

/* How a task left a worker (IPC_DONE). */
enum ipc_outcome {
	IPC_OUT_COMPLETED = 0,	/* result stored */
	IPC_OUT_RETRY = 1,	/* nacked: back to delayed/ready (or DLQ after max attempts) */
	IPC_OUT_FAILED = 2,	/* failed permanently */
	IPC_OUT_STALE = 3,	/* store refused: lease token no longer current */
	IPC_OUT_RELEASED = 4,	/* given back without an attempt's verdict (shutdown) */
	IPC_OUT_LOST = 5,	/* could not reach the store; the lease will expire */
	IPC_OUT_MAX = 5,
};

enum ipc_status {
	IPC_OK = 0,
	IPC_EOF = 1,		/* peer closed the socket */
	IPC_EAGAIN = -1,	/* nothing to read / socket full (non-blocking) */
	IPC_ESYS = -2,		/* system error: see errno */
	IPC_EMALFORMED = -3,	/* frame rejected by the decoder */
	IPC_ETOOBIG = -4,	/* message would not fit in IPC_MAX_FRAME */
};

struct ipc_counter {
	char name[IPC_NAME_MAX];
	uint64_t value;
};

struct ipc_msg {
	enum ipc_type type;
	union {
		struct { uint64_t pid; } ready;
		struct {
			char queue[IPC_QUEUE_MAX];
			char id[IPC_ID_MAX];
			char token[IPC_TOKEN_MAX];
			uint64_t lease_until_ms;
			uint64_t deadline_ms;
		} claimed;
		struct { char id[IPC_ID_MAX]; uint64_t pgid; } handler;
		struct { char id[IPC_ID_MAX]; uint64_t outcome; } done;
		struct {
			size_t n;
			struct ipc_counter c[IPC_MAX_COUNTERS];
		} counters;
		struct {
			uint64_t log_level;	/* enum log_level */
			uint64_t retention_ms, max_payload;	/* [store] */
			uint64_t connect_timeout_ms, command_timeout_ms;
		} reload;
		struct { char queue[IPC_QUEUE_MAX]; } wake;
		struct {
			char id[IPC_ID_MAX];
			char token[IPC_TOKEN_MAX];
		} lease_lost;
	} u;
};

const char *ipc_type_name(enum ipc_type t);
const char *ipc_outcome_name(uint64_t outcome);

/* Encodes m into buf (cap bytes); *len receives the frame length.
 * IPC_ETOOBIG when it does not fit, IPC_EMALFORMED for an unknown type or
 * an over-long string. */
int ipc_encode(const struct ipc_msg *m, char *buf, size_t cap, size_t *len);

/* Decodes one frame.  On IPC_EMALFORMED, err (may be NULL) says why. */
int ipc_decode(const char *buf, size_t len, struct ipc_msg *m, char *err,
    size_t errlen);

/* socketpair(AF_UNIX, SOCK_SEQPACKET) with close-on-exec on both ends. */
int ipc_pair(int fds[2]);

/* Sends one message.  nonblock: MSG_DONTWAIT (IPC_EAGAIN when full). */
int ipc_send(int fd, const struct ipc_msg *m, int nonblock);
/* Sends an already encoded frame. */
int ipc_send_frame(int fd, const char *frame, size_t len, int nonblock);

/* Receives and decodes one frame: IPC_OK, IPC_EOF, IPC_EAGAIN (only for a
 * non-blocking socket), IPC_ESYS, or IPC_EMALFORMED (the frame was
 * consumed; the caller decides whether to keep talking to that peer). */
int ipc_recv(int fd, struct ipc_msg *m, char *err, size_t errlen);

/* Helpers to build messages. */
void ipc_counters_add(struct ipc_msg *m, const char *name, uint64_t value);

#endif
