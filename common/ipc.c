/*
 * ipc.c - msgpack frames between the dispatcher and its children (ipc.h).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <msgpack.h>

#include "ipc.h"

/* ---- Encoding ------------------------------------------------------ */

struct fixbuf {
	char *buf;
	size_t cap, len;
	int overflow;
};

static int
fixbuf_write(void *data, const char *p, size_t n)
{
	struct fixbuf *fb = data;

	if (fb->overflow || n > fb->cap - fb->len) {
		fb->overflow = 1;
		return -1;
	}
	memcpy(fb->buf + fb->len, p, n);
	fb->len += n;
	return 0;
}

static int
pack_str(msgpack_packer *pk, const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n >= max)
		return -1;
	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
	return 0;
}

int
ipc_encode(const struct ipc_msg *m, char *buf, size_t cap, size_t *len)
{
	struct fixbuf fb = { buf, cap, 0, 0 };
	msgpack_packer pk;
	int bad = 0;
	size_t i;

	msgpack_packer_init(&pk, &fb, fixbuf_write);
	switch (m->type) {
	case IPC_READY:
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint32(&pk, m->type);
		msgpack_pack_uint64(&pk, m->u.ready.pid);
		break;
	case IPC_IDLE:
	case IPC_SHUTDOWN:
	case IPC_ABORT:
		msgpack_pack_array(&pk, 1);
		msgpack_pack_uint32(&pk, m->type);
		break;
	case IPC_CLAIMED:
		msgpack_pack_array(&pk, 6);
		msgpack_pack_uint32(&pk, m->type);
		bad |= pack_str(&pk, m->u.claimed.queue, IPC_QUEUE_MAX);
		bad |= pack_str(&pk, m->u.claimed.id, IPC_ID_MAX);
		bad |= pack_str(&pk, m->u.claimed.token, IPC_TOKEN_MAX);
		msgpack_pack_uint64(&pk, m->u.claimed.lease_until_ms);
		msgpack_pack_uint64(&pk, m->u.claimed.deadline_ms);
		break;
	case IPC_HANDLER:
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint32(&pk, m->type);
		bad |= pack_str(&pk, m->u.handler.id, IPC_ID_MAX);
		msgpack_pack_uint64(&pk, m->u.handler.pgid);
		break;
	case IPC_DONE:
		if (m->u.done.outcome > IPC_OUT_MAX)
			return IPC_EMALFORMED;
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint32(&pk, m->type);
		bad |= pack_str(&pk, m->u.done.id, IPC_ID_MAX);
		msgpack_pack_uint64(&pk, m->u.done.outcome);
		break;
	case IPC_RELOAD:
		msgpack_pack_array(&pk, 6);
		msgpack_pack_uint32(&pk, m->type);
		msgpack_pack_uint64(&pk, m->u.reload.log_level);
		msgpack_pack_uint64(&pk, m->u.reload.retention_ms);
		msgpack_pack_uint64(&pk, m->u.reload.max_payload);
		msgpack_pack_uint64(&pk, m->u.reload.connect_timeout_ms);
		msgpack_pack_uint64(&pk, m->u.reload.command_timeout_ms);
		break;
	case IPC_COUNTERS:
		if (m->u.counters.n > IPC_MAX_COUNTERS)
			return IPC_EMALFORMED;
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint32(&pk, m->type);
		msgpack_pack_map(&pk, m->u.counters.n);
		for (i = 0; i < m->u.counters.n; i++) {
			bad |= pack_str(&pk, m->u.counters.c[i].name, IPC_NAME_MAX);
			msgpack_pack_uint64(&pk, m->u.counters.c[i].value);
		}
		break;
	case IPC_WAKE:
		msgpack_pack_array(&pk, 2);
		msgpack_pack_uint32(&pk, m->type);
		bad |= pack_str(&pk, m->u.wake.queue, IPC_QUEUE_MAX);
		break;
	case IPC_LEASE_LOST:
		msgpack_pack_array(&pk, 3);
		msgpack_pack_uint32(&pk, m->type);
		bad |= pack_str(&pk, m->u.lease_lost.id, IPC_ID_MAX);
		bad |= pack_str(&pk, m->u.lease_lost.token, IPC_TOKEN_MAX);
		break;
	default:
		return IPC_EMALFORMED;
	}
	if (bad)
		return IPC_EMALFORMED;
	if (fb.overflow)
		return IPC_ETOOBIG;
	*len = fb.len;
	return IPC_OK;
}

/* ---- Decoding ------------------------------------------------------ */

static int
fmt_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return IPC_EMALFORMED;
}

static uint64_t
be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return v;
}

/*
 * Walks the msgpack structure of a frame without allocating: every length
 * and element count must fit in the bytes that remain (each element takes
 * at least one byte), nesting stays within IPC_MAX_DEPTH, and exactly one
 * object fills the frame.  Only then is msgpack-c asked to unpack it, so a
 * hostile "array of 4 billion elements" header never reaches its
 * allocator.
 */
static int
precheck(const unsigned char *p, size_t len, char *err, size_t errlen)
{
	size_t left[IPC_MAX_DEPTH + 1];
	size_t pos = 0, depth = 0;
	uint64_t n, skip;
	int cont;
	unsigned b;

	left[0] = 1;
	for (;;) {
		while (depth > 0 && left[depth] == 0)
			depth--;
		if (left[depth] == 0)
			break;
		if (pos >= len)
			return fmt_err(err, errlen, "truncated at byte %zu", pos);
		b = p[pos++];
		left[depth]--;
		skip = 0;
		n = 0;
		cont = 0;		/* 1 array, 2 map */
#define NEED(k) do { if (len - pos < (k)) \
	return fmt_err(err, errlen, "truncated at byte %zu", pos); } while (0)
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
			;
		else if (b >= 0x80 && b <= 0x8f) {
			n = b & 0x0f;
			cont = 2;
		} else if (b >= 0x90 && b <= 0x9f) {
			n = b & 0x0f;
			cont = 1;
		} else if (b >= 0xa0 && b <= 0xbf)
			skip = b & 0x1f;
		else switch (b) {
		case 0xc4: case 0xd9:
			NEED(1); skip = be(p + pos, 1); pos += 1; break;
		case 0xc5: case 0xda:
			NEED(2); skip = be(p + pos, 2); pos += 2; break;
		case 0xc6: case 0xdb:
			NEED(4); skip = be(p + pos, 4); pos += 4; break;
		case 0xc7:
			NEED(2); skip = be(p + pos, 1) + 1; pos += 1; break;
		case 0xc8:
			NEED(3); skip = be(p + pos, 2) + 1; pos += 2; break;
		case 0xc9:
			NEED(5); skip = be(p + pos, 4) + 1; pos += 4; break;
		case 0xcc: case 0xd0: skip = 1; break;
		case 0xcd: case 0xd1: skip = 2; break;
		case 0xca: case 0xce: case 0xd2: skip = 4; break;
		case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
		case 0xd4: skip = 2; break;
		case 0xd5: skip = 3; break;
		case 0xd6: skip = 5; break;
		case 0xd7: skip = 9; break;
		case 0xd8: skip = 17; break;
		case 0xdc: NEED(2); n = be(p + pos, 2); pos += 2; cont = 1; break;
		case 0xdd: NEED(4); n = be(p + pos, 4); pos += 4; cont = 1; break;
		case 0xde: NEED(2); n = be(p + pos, 2); pos += 2; cont = 2; break;
		case 0xdf: NEED(4); n = be(p + pos, 4); pos += 4; cont = 2; break;
		default:
			return fmt_err(err, errlen, "invalid byte 0x%02x at %zu",
			    b, pos - 1);
		}
#undef NEED
		if (skip > len - pos)
			return fmt_err(err, errlen, "length %llu past the end at byte %zu",
			    (unsigned long long)skip, pos);
		pos += skip;
		if (cont) {
			if (cont == 2)
				n *= 2;		/* n < 2^32: no overflow */
			if (n > len - pos)
				return fmt_err(err, errlen,
				    "%llu elements cannot fit in %zu bytes",
				    (unsigned long long)n, len - pos);
			if (n > 0) {
				if (depth == IPC_MAX_DEPTH)
					return fmt_err(err, errlen, "nested too deep");
				left[++depth] = n;
			}
		}
	}
	if (pos != len)
		return fmt_err(err, errlen, "%zu trailing bytes", len - pos);
	return IPC_OK;
}

static int
get_uint(const msgpack_object *o, uint64_t *v)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	*v = o->via.u64;
	return 0;
}

/* Copies a msgpack str of 1..max-1 bytes without NUL into dst. */
static int
get_str(const msgpack_object *o, char *dst, size_t max)
{
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 ||
	    o->via.str.size >= max ||
	    memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
		return -1;
	memcpy(dst, o->via.str.ptr, o->via.str.size);
	dst[o->via.str.size] = '\0';
	return 0;
}

static int
decode_fields(const msgpack_object *f, size_t nf, struct ipc_msg *m,
    char *err, size_t errlen)
{
	static const struct { enum ipc_type t; size_t n; } arity[] = {
		{ IPC_READY, 1 }, { IPC_IDLE, 0 }, { IPC_CLAIMED, 5 },
		{ IPC_HANDLER, 2 }, { IPC_DONE, 2 }, { IPC_COUNTERS, 1 },
		{ IPC_WAKE, 1 }, { IPC_SHUTDOWN, 0 }, { IPC_ABORT, 0 },
		{ IPC_RELOAD, 5 }, { IPC_LEASE_LOST, 2 },
	};
	const msgpack_object_kv *kv;
	size_t i;

	for (i = 0; i < sizeof(arity) / sizeof(arity[0]); i++)
		if (arity[i].t == m->type)
			break;
	if (i == sizeof(arity) / sizeof(arity[0]))
		return fmt_err(err, errlen, "unknown message type %u", m->type);
	if (arity[i].n != nf)
		return fmt_err(err, errlen, "%s: %zu fields, expected %zu",
		    ipc_type_name(m->type), nf, arity[i].n);

	switch (m->type) {
	case IPC_READY:
		if (get_uint(&f[0], &m->u.ready.pid) < 0 || m->u.ready.pid == 0 ||
		    m->u.ready.pid > INT32_MAX)
			goto bad;
		break;
	case IPC_CLAIMED:
		if (get_str(&f[0], m->u.claimed.queue, IPC_QUEUE_MAX) < 0 ||
		    get_str(&f[1], m->u.claimed.id, IPC_ID_MAX) < 0 ||
		    get_str(&f[2], m->u.claimed.token, IPC_TOKEN_MAX) < 0 ||
		    get_uint(&f[3], &m->u.claimed.lease_until_ms) < 0 ||
		    get_uint(&f[4], &m->u.claimed.deadline_ms) < 0)
			goto bad;
		break;
	case IPC_HANDLER:
		if (get_str(&f[0], m->u.handler.id, IPC_ID_MAX) < 0 ||
		    get_uint(&f[1], &m->u.handler.pgid) < 0 ||
		    m->u.handler.pgid <= 1 || m->u.handler.pgid > INT32_MAX)
			goto bad;
		break;
	case IPC_DONE:
		if (get_str(&f[0], m->u.done.id, IPC_ID_MAX) < 0 ||
		    get_uint(&f[1], &m->u.done.outcome) < 0 ||
		    m->u.done.outcome > IPC_OUT_MAX)
			goto bad;
		break;
	case IPC_RELOAD:
		if (get_uint(&f[0], &m->u.reload.log_level) < 0 ||
		    get_uint(&f[1], &m->u.reload.retention_ms) < 0 ||
		    get_uint(&f[2], &m->u.reload.max_payload) < 0 ||
		    get_uint(&f[3], &m->u.reload.connect_timeout_ms) < 0 ||
		    get_uint(&f[4], &m->u.reload.command_timeout_ms) < 0)
			goto bad;
		break;
	case IPC_COUNTERS:
		if (f[0].type != MSGPACK_OBJECT_MAP ||
		    f[0].via.map.size > IPC_MAX_COUNTERS)
			goto bad;
		m->u.counters.n = f[0].via.map.size;
		for (i = 0; i < m->u.counters.n; i++) {
			kv = &f[0].via.map.ptr[i];
			if (get_str(&kv->key, m->u.counters.c[i].name,
			    IPC_NAME_MAX) < 0 ||
			    get_uint(&kv->val, &m->u.counters.c[i].value) < 0)
				goto bad;
		}
		break;
	case IPC_WAKE:
		if (get_str(&f[0], m->u.wake.queue, IPC_QUEUE_MAX) < 0)
			goto bad;
		break;
	case IPC_LEASE_LOST:
		if (get_str(&f[0], m->u.lease_lost.id, IPC_ID_MAX) < 0 ||
		    get_str(&f[1], m->u.lease_lost.token, IPC_TOKEN_MAX) < 0)
			goto bad;
		break;
	default:
		break;
	}
	return IPC_OK;
bad:
	return fmt_err(err, errlen, "%s: a field has the wrong type or size",
	    ipc_type_name(m->type));
}

int
ipc_decode(const char *buf, size_t len, struct ipc_msg *m, char *err,
    size_t errlen)
{
	msgpack_unpacked up;
	const msgpack_object *o;
	uint64_t type;
	size_t off = 0;
	int rc;

	if (len == 0 || len > IPC_MAX_FRAME)
		return fmt_err(err, errlen, "frame of %zu bytes", len);
	if ((rc = precheck((const unsigned char *)buf, len, err, errlen)) != 0)
		return rc;
	memset(m, 0, sizeof(*m));
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len) {
		rc = fmt_err(err, errlen, "not one msgpack object");
		goto out;
	}
	o = &up.data;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1 ||
	    get_uint(&o->via.array.ptr[0], &type) < 0 || type > 255) {
		rc = fmt_err(err, errlen, "not an array starting with a type");
		goto out;
	}
	m->type = (enum ipc_type)type;
	rc = decode_fields(o->via.array.ptr + 1, o->via.array.size - 1, m,
	    err, errlen);
out:
	msgpack_unpacked_destroy(&up);
	return rc;
}

/* ---- Sockets ------------------------------------------------------- */

int
ipc_pair(int fds[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
		return IPC_ESYS;
	return IPC_OK;
}

int
ipc_send_frame(int fd, const char *frame, size_t len, int nonblock)
{
	struct pollfd pfd = { fd, POLLOUT, 0 };
	ssize_t n;

	/* Blocking sends also work on a non-blocking socket: wait until
	 * there is room (the socket may be non-blocking for the reader). */
	for (;;) {
		n = send(fd, frame, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0 || nonblock)
			break;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			poll(&pfd, 1, -1);
		else if (errno != EINTR)
			break;
	}
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? IPC_EAGAIN : IPC_ESYS;
	return IPC_OK;
}

int
ipc_send(int fd, const struct ipc_msg *m, int nonblock)
{
	char buf[IPC_MAX_FRAME];
	size_t len;
	int rc;

	if ((rc = ipc_encode(m, buf, sizeof(buf), &len)) != IPC_OK)
		return rc;
	return ipc_send_frame(fd, buf, len, nonblock);
}

int
ipc_recv(int fd, struct ipc_msg *m, char *err, size_t errlen)
{
	static char buf[IPC_MAX_FRAME + 1];
	ssize_t n;

	/* MSG_TRUNC makes recv return the real datagram length, so an
	 * over-long frame is seen as such instead of silently cut. */
	do
		n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? IPC_EAGAIN : IPC_ESYS;
	if (n == 0)
		return IPC_EOF;
	return ipc_decode(buf, (size_t)n, m, err, errlen);
}

/* ---- Names --------------------------------------------------------- */

const char *
ipc_type_name(enum ipc_type t)
{
	switch (t) {
	case IPC_READY: return "READY";
	case IPC_IDLE: return "IDLE";
	case IPC_CLAIMED: return "CLAIMED";
	case IPC_HANDLER: return "HANDLER";
	case IPC_DONE: return "DONE";
	case IPC_COUNTERS: return "COUNTERS";
	case IPC_WAKE: return "WAKE";
	case IPC_SHUTDOWN: return "SHUTDOWN";
	case IPC_ABORT: return "ABORT";
	case IPC_RELOAD: return "RELOAD";
	case IPC_LEASE_LOST: return "LEASE_LOST";
	}
	return "UNKNOWN";
}

const char *
ipc_outcome_name(uint64_t o)
{
	static const char *names[] = { "completed", "retry", "failed",
	    "stale", "released", "lost" };

	return o <= IPC_OUT_MAX ? names[o] : "unknown";
}

void
ipc_counters_add(struct ipc_msg *m, const char *name, uint64_t value)
{
	struct ipc_counter *c;

	if (m->u.counters.n >= IPC_MAX_COUNTERS)
		return;
	c = &m->u.counters.c[m->u.counters.n++];
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->value = value;
}
