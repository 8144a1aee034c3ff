/*
 * shard.c: where the queues of a sharded deployment live, and moving a
 * quiet queue from one store to another (codeq shard list|verify|move;
 * docs/storage.md, "Moving a queue").
 *
 * The shard map is configuration, so a move is two steps the operator
 * runs around a configuration change, each safe to interrupt and rerun:
 *
 *   copy    (codeq_shard_copy): with the queue quiet, every key
 *           codeq:{Q}:* of its current store is written to the
 *           destination, read back from both and compared; then a
 *           marker codeq:{Q}:move on the source records where it went
 *           and a digest of what was copied;
 *   finish  (codeq_shard_finish): once the map puts Q on the destination,
 *           the source's keys are deleted -- only if they still match the
 *           marker's digest, i.e. nothing changed there since the verified
 *           copy, so no work done on the source can be lost.
 *
 * Keys are copied by type (GET/SET, HGETALL/HSET, LRANGE/RPUSH,
 * SMEMBERS/SADD, ZRANGE WITHSCORES/ZADD), each in one MULTI on the
 * destination after a DEL, keeping its expiry.  DUMP/RESTORE would be
 * shorter, but its payload is the server's RDB encoding: Redis and
 * KVRocks differ, and even one server may restore a key with another
 * encoding, so payloads cannot be compared; a copy by type works between
 * any two of them and compares contents, not encodings.  A key is read
 * whole (one LRANGE 0 -1): queues are moved while quiet, not under load.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "store.h"
#include "task.h"

#define CHUNK 1000	/* SCAN COUNT, and values per write command */

enum kv_type { T_STRING, T_HASH, T_LIST, T_SET, T_ZSET };

static const char *const type_names[] = { "string", "hash", "list", "set",
    "zset" };

struct value {
	char *s;
	size_t len;
};

/* One key's content in a canonical order (hash fields and set members
 * sorted, zset scores reformatted), so that two stores compare equal
 * whatever their encodings. */
struct kv {
	char *key;
	enum kv_type type;
	struct value *v;	/* zset: member, score pairs; hash: field, value */
	size_t n;
	int64_t pttl;		/* -1: no expiry */
};

/* Every key of a queue on one store, sorted by name. */
struct snap {
	struct kv *kv;
	size_t n;
};

/* ---- stores ---------------------------------------------------------- */

size_t
codeq_store_count(codeq_t *c)
{
	return c != NULL ? store_nlinks(c) : 0;
}

const char *
codeq_store_name(codeq_t *c, size_t i)
{
	if (c == NULL || i >= store_nlinks(c))
		return NULL;
	return i == 0 ? SHARDMAP_HOME : c->map->names[i];
}

void
codeq_store_url(codeq_t *c, size_t i, char *buf, size_t len)
{
	const struct store_url *u;

	if (len == 0)
		return;
	buf[0] = '\0';
	if (c == NULL || i >= store_nlinks(c))
		return;
	if (i > 0) {
		store_url_redact(c->map->urls[i], buf, len);
		return;
	}
	/* The home's URL string is the caller's: rebuild it from its parts,
	 * userinfo shown as asterisks as store_url_redact does. */
	u = c->links[0].url;
	if (u->port == 0)
		snprintf(buf, len, "unix://%s%s?db=%d", u->user[0] ||
		    u->password[0] ? "***@" : "", u->path, u->db);
	else
		snprintf(buf, len, "redis://%s%s/%d", u->user[0] ||
		    u->password[0] ? "***@" : "", u->where, u->db);
}

int
codeq_store_find(codeq_t *c, const char *name, size_t *i, codeq_error *err)
{
	size_t j;
	CQ_ERR_LOCAL(err);

	for (j = 0; j < store_nlinks(c); j++)
		if (strcmp(codeq_store_name(c, j), name) == 0) {
			*i = j;
			return CODEQ_OK;
		}
	return cq_err(err, CODEQ_EINVAL, "%s: no such store (home or a "
	    "[shard] name)", name);
}

/* ---- reading keys ------------------------------------------------------ */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and drops duplicates (SCAN may return a key twice). */
static void
sort_unique(char **v, size_t *n)
{
	size_t i, o = 0;

	if (*n == 0)
		return;
	qsort(v, *n, sizeof(*v), cmp_str);
	for (i = 1; i < *n; i++) {
		if (strcmp(v[i], v[o]) == 0)
			free(v[i]);
		else
			v[++o] = v[i];
	}
	*n = o + 1;
}

static int
strv_push(char ***v, size_t *n, size_t *cap, const char *s, codeq_error *err)
{
	char **nv;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		if ((nv = realloc(*v, *cap * sizeof(*nv))) == NULL)
			return cq_err(err, CODEQ_ENOMEM, "out of memory");
		*v = nv;
	}
	if (((*v)[*n] = strdup(s)) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	(*n)++;
	return CODEQ_OK;
}

/* One SCAN round on store li: the keys starting with prefix are passed
 * to each(); *cursor is advanced ("0" at the end). */
static int
scan_round(codeq_t *c, size_t li, const char *prefix, char cursor[32],
    int (*each)(void *, const char *, codeq_error *), void *arg,
    codeq_error *err)
{
	size_t i, plen = strlen(prefix);
	redisReply *r, *k;
	int code = CODEQ_OK;

	r = store_link_command(c, li, err, "SCAN %s MATCH %s* COUNT %d",
	    cursor, prefix, CHUNK);
	if (r == NULL)
		return err->code;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		return cq_err(err, CODEQ_EPROTO, "%s: bad SCAN reply",
		    c->links[li].label);
	}
	snprintf(cursor, 32, "%s", r->element[0]->str);
	/* The prefix is checked here too: some KVRocks versions match SCAN
	 * patterns by prefix only (lib/fsck.c). */
	for (i = 0; i < r->element[1]->elements && code == CODEQ_OK; i++) {
		k = r->element[1]->element[i];
		if (k->type == REDIS_REPLY_STRING &&
		    strncmp(k->str, prefix, plen) == 0)
			code = each(arg, k->str, err);
	}
	freeReplyObject(r);
	return code;
}

static int
scan_all(codeq_t *c, size_t li, const char *prefix,
    int (*each)(void *, const char *, codeq_error *), void *arg,
    codeq_error *err)
{
	char cursor[32] = "0";
	int code;

	do
		code = scan_round(c, li, prefix, cursor, each, arg, err);
	while (code == CODEQ_OK && strcmp(cursor, "0") != 0);
	return code;
}

struct keylist {
	char **v;
	size_t n, cap;
};

static int
keylist_add(void *arg, const char *key, codeq_error *err)
{
	struct keylist *l = arg;

	return strv_push(&l->v, &l->n, &l->cap, key, err);
}

/* The prefix codeq:{Q}: of every key of queue. */
static int
queue_prefix(const char *queue, char *buf, size_t len, codeq_error *err)
{
	if ((size_t)snprintf(buf, len, "codeq:{%s}:", queue) >= len)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	return CODEQ_OK;
}

/* Every key of queue on store li, sorted. */
static int
list_keys(codeq_t *c, size_t li, const char *queue, struct keylist *l,
    codeq_error *err)
{
	char prefix[TASK_KEY_MAX];
	int code;

	memset(l, 0, sizeof(*l));
	if ((code = queue_prefix(queue, prefix, sizeof(prefix), err)) != 0)
		return code;
	if ((code = scan_all(c, li, prefix, keylist_add, l, err)) != 0)
		return code;
	sort_unique(l->v, &l->n);
	return CODEQ_OK;
}

static void
kv_clear(struct kv *kv)
{
	size_t i;

	for (i = 0; i < kv->n; i++)
		free(kv->v[i].s);
	free(kv->v);
	free(kv->key);
	memset(kv, 0, sizeof(*kv));
}

static void
snap_free(struct snap *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		kv_clear(&s->kv[i]);
	free(s->kv);
	memset(s, 0, sizeof(*s));
}

static int
cmp_value(const struct value *a, const struct value *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int d = memcmp(a->s, b->s, n);

	return d != 0 ? d : (a->len > b->len) - (a->len < b->len);
}

static int
cmp_value_q(const void *a, const void *b)
{
	return cmp_value(a, b);
}

/* Copies the string elements of r into kv (an element of another type is
 * a protocol error). */
static int
take_values(struct kv *kv, const redisReply *r, codeq_error *err)
{
	const redisReply *e;
	size_t i;

	if ((kv->v = calloc(r->elements + 1, sizeof(*kv->v))) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	for (i = 0; i < r->elements; i++) {
		e = r->element[i];
		if (e->type != REDIS_REPLY_STRING)
			return cq_err(err, CODEQ_EPROTO, "%s: bad reply",
			    kv->key);
		if ((kv->v[i].s = malloc(e->len + 1)) == NULL)
			return cq_err(err, CODEQ_ENOMEM, "out of memory");
		memcpy(kv->v[i].s, e->str, e->len + 1);
		kv->v[i].len = e->len;
		kv->n++;
	}
	return CODEQ_OK;
}

/* Zset scores as "%.17g": both stores' spellings of one double match. */
static int
normalize_scores(struct kv *kv, codeq_error *err)
{
	char buf[40], *s;
	size_t i;

	for (i = 1; i < kv->n; i += 2) {
		snprintf(buf, sizeof(buf), "%.17g", strtod(kv->v[i].s, NULL));
		if ((s = strdup(buf)) == NULL)
			return cq_err(err, CODEQ_ENOMEM, "out of memory");
		free(kv->v[i].s);
		kv->v[i].s = s;
		kv->v[i].len = strlen(s);
	}
	return CODEQ_OK;
}

/* Hash fields (pairs) or set members in byte order. */
static void
canonical_order(struct kv *kv)
{
	if (kv->type == T_SET)
		qsort(kv->v, kv->n, sizeof(*kv->v), cmp_value_q);
	else if (kv->type == T_HASH)
		qsort(kv->v, kv->n / 2, 2 * sizeof(*kv->v), cmp_value_q);
}

static int
parse_type(const redisReply *r, const char *key, enum kv_type *t,
    codeq_error *err)
{
	size_t i;

	if (r->type == REDIS_REPLY_STATUS && strcmp(r->str, "none") == 0)
		return CODEQ_ENOTFOUND;
	for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (r->type == REDIS_REPLY_STATUS &&
		    strcmp(r->str, type_names[i]) == 0) {
			*t = (enum kv_type)i;
			return CODEQ_OK;
		}
	return cq_err(err, CODEQ_EPROTO, "%s: type %s cannot be copied", key,
	    r->type == REDIS_REPLY_STATUS ? r->str : "(bad reply)");
}

/* The content of kv->key (type known) on store li. */
static int
read_content(codeq_t *c, size_t li, struct kv *kv, codeq_error *err)
{
	static const char *const fmt[] = { "GET %s", "HGETALL %s",
	    "LRANGE %s 0 -1", "SMEMBERS %s", "ZRANGE %s 0 -1 WITHSCORES" };
	redisReply *r;
	int code;

	if ((r = store_link_command(c, li, err, fmt[kv->type], kv->key)) ==
	    NULL)
		return err->code;
	if ((code = store_reply_ok(r, kv->key, err)) != CODEQ_OK)
		goto out;
	if (kv->type == T_STRING && r->type == REDIS_REPLY_STRING) {
		redisReply *one[1] = { r };
		redisReply wrap = { .type = REDIS_REPLY_ARRAY, .elements = 1,
		    .element = one };
		code = take_values(kv, &wrap, err);
	} else if (kv->type != T_STRING && r->type == REDIS_REPLY_ARRAY)
		code = take_values(kv, r, err);
	else	/* gone or retyped between TYPE and now */
		code = cq_err(err, CODEQ_ESTATE, "%s changed while read",
		    kv->key);
	if (code == CODEQ_OK && kv->type == T_ZSET)
		code = normalize_scores(kv, err);
	canonical_order(kv);
out:
	freeReplyObject(r);
	return code;
}

static int
read_pttl(codeq_t *c, size_t li, struct kv *kv, codeq_error *err)
{
	redisReply *r;

	if ((r = store_link_command(c, li, err, "PTTL %s", kv->key)) == NULL)
		return err->code;
	if (r->type != REDIS_REPLY_INTEGER) {
		freeReplyObject(r);
		return cq_err(err, CODEQ_EPROTO, "PTTL %s: bad reply", kv->key);
	}
	kv->pttl = r->integer >= 0 ? r->integer : -1;
	freeReplyObject(r);
	return CODEQ_OK;
}

/* Reads key from store li into kv; CODEQ_ENOTFOUND when it is gone. */
static int
read_kv(codeq_t *c, size_t li, const char *key, struct kv *kv,
    codeq_error *err)
{
	redisReply *r;
	int code;

	memset(kv, 0, sizeof(*kv));
	if ((kv->key = strdup(key)) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	if ((r = store_link_command(c, li, err, "TYPE %s", key)) == NULL) {
		code = err->code;
		goto fail;
	}
	code = parse_type(r, key, &kv->type, err);
	freeReplyObject(r);
	if (code == CODEQ_OK)
		code = read_content(c, li, kv, err);
	if (code == CODEQ_OK)
		code = read_pttl(c, li, kv, err);
	if (code == CODEQ_OK)
		return CODEQ_OK;
fail:
	kv_clear(kv);
	return code;
}

static int
is_marker(const char *queue, const char *key)
{
	char m[TASK_KEY_MAX];

	return key_queue(m, sizeof(m), queue, CODEQ_KEY_MOVE) == 0 &&
	    strcmp(m, key) == 0;
}

/* Every key of queue on store li but the move marker, in name order. */
static int
snap_read(codeq_t *c, size_t li, const char *queue, struct snap *s,
    codeq_error *err)
{
	struct keylist l;
	size_t i;
	int code;

	memset(s, 0, sizeof(*s));
	if ((code = list_keys(c, li, queue, &l, err)) != CODEQ_OK)
		goto out;
	if (l.n > 0 && (s->kv = calloc(l.n, sizeof(*s->kv))) == NULL) {
		code = cq_err(err, CODEQ_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < l.n && code == CODEQ_OK; i++) {
		if (is_marker(queue, l.v[i]))
			continue;
		code = read_kv(c, li, l.v[i], &s->kv[s->n], err);
		if (code == CODEQ_OK)
			s->n++;
		else if (code == CODEQ_ENOTFOUND)	/* expired meanwhile */
			code = CODEQ_OK;
	}
out:
	codeq_strv_free(l.v, l.n);
	if (code != CODEQ_OK)
		snap_free(s);
	return code;
}

static int
cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

static const struct kv *
snap_find(const struct snap *s, const char *key)
{
	struct kv k = { .key = (char *)key };

	return s->n ? bsearch(&k, s->kv, s->n, sizeof(*s->kv), cmp_kv) : NULL;
}

/* Same type, same content, and both with or both without an expiry (the
 * remaining times differ by the copy's duration). */
static int
kv_equal(const struct kv *a, const struct kv *b)
{
	size_t i;

	if (a->type != b->type || a->n != b->n ||
	    (a->pttl < 0) != (b->pttl < 0))
		return 0;
	for (i = 0; i < a->n; i++)
		if (cmp_value(&a->v[i], &b->v[i]) != 0)
			return 0;
	return 1;
}

/* The first key of a that b lacks or holds otherwise; NULL if none. */
static const char *
snap_first_difference(const struct snap *a, const struct snap *b)
{
	const struct kv *o;
	size_t i;

	for (i = 0; i < a->n; i++)
		if ((o = snap_find(b, a->kv[i].key)) == NULL ||
		    !kv_equal(&a->kv[i], o))
			return a->kv[i].key;
	return NULL;
}

static void
fnv(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n-- > 0) {
		*h ^= *s++;
		*h *= 1099511628211ULL;
	}
}

/* FNV-1a-64 over the keys without an expiry (a key with one -- a
 * finished task, an idempotency key, a worker's last claim -- may expire
 * at any time; what changes it also changes the queue's stats or seq),
 * each as name, type and length-prefixed values. */
static uint64_t
snap_digest(const struct snap *s)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i, j, len;

	for (i = 0; i < s->n; i++) {
		if (s->kv[i].pttl >= 0)
			continue;
		fnv(&h, s->kv[i].key, strlen(s->kv[i].key) + 1);
		fnv(&h, type_names[s->kv[i].type],
		    strlen(type_names[s->kv[i].type]) + 1);
		for (j = 0; j < s->kv[i].n; j++) {
			len = s->kv[i].v[j].len;
			fnv(&h, &len, sizeof(len));
			fnv(&h, s->kv[i].v[j].s, len);
		}
	}
	return h;
}

/* ---- writing keys ------------------------------------------------------ */

/* A command name plus up to CHUNK values, built for store_*_argv. */
struct cmd {
	const char *argv[CHUNK + 3];
	size_t lens[CHUNK + 3];
	int argc;
};

static void
cmd_start(struct cmd *m, const char *name, const char *key)
{
	m->argc = 0;
	m->argv[m->argc] = name;
	m->lens[m->argc++] = strlen(name);
	if (key != NULL) {
		m->argv[m->argc] = key;
		m->lens[m->argc++] = strlen(key);
	}
}

static void
cmd_arg(struct cmd *m, const struct value *v)
{
	m->argv[m->argc] = v->s;
	m->lens[m->argc++] = v->len;
}

/* Appends the commands that write kv's values (after its DEL), CHUNK
 * values at most per command; *queued counts them. */
static int
append_values(codeq_t *c, size_t li, const struct kv *kv, struct cmd *m,
    size_t *queued, codeq_error *err)
{
	static const char *const names[] = { "SET", "HSET", "RPUSH", "SADD",
	    "ZADD" };
	size_t i = 0, j, step = kv->type == T_HASH || kv->type == T_ZSET ?
	    2 : 1;
	int code;

	while (i < kv->n) {
		cmd_start(m, names[kv->type], kv->key);
		for (j = 0; j < CHUNK && i < kv->n; j += step, i += step) {
			if (kv->type == T_ZSET) {	/* ZADD key score member */
				cmd_arg(m, &kv->v[i + 1]);
				cmd_arg(m, &kv->v[i]);
				continue;
			}
			cmd_arg(m, &kv->v[i]);
			if (kv->type == T_HASH)
				cmd_arg(m, &kv->v[i + 1]);
		}
		if ((code = store_link_append_argv(c, li, m->argc, m->argv,
		    m->lens, err)) != CODEQ_OK)
			return code;
		(*queued)++;
	}
	return CODEQ_OK;
}

static int
append_fmt(codeq_t *c, size_t li, struct cmd *m, size_t *queued,
    codeq_error *err, const char *name, const char *key, const char *arg)
{
	cmd_start(m, name, key);
	if (arg != NULL) {
		m->argv[m->argc] = arg;
		m->lens[m->argc++] = strlen(arg);
	}
	(*queued)++;
	return store_link_append_argv(c, li, m->argc, m->argv, m->lens, err);
}

/* A transaction that could not be sent whole must not be half-executed
 * nor leave replies for the next caller: drop the links (err keeps the
 * first failure's message). */
static int
abandon(codeq_t *c, int code)
{
	codeq_error e;

	store_lost(c, &e);
	return code;
}

/* Reads the replies of a MULTI ... EXEC of queued commands: the EXEC's
 * must be an array without errors. */
static int
exec_replies(codeq_t *c, size_t queued, const char *what, codeq_error *err)
{
	redisReply *r;
	size_t i, j;
	int code = CODEQ_OK;

	for (i = 0; i < queued; i++) {
		if ((r = store_get_reply(c, err)) == NULL)
			return err->code;	/* the pipeline is dropped */
		if (code == CODEQ_OK && r->type == REDIS_REPLY_ERROR)
			code = cq_err(err, CODEQ_ESTORE, "%s: %s", what, r->str);
		else if (code == CODEQ_OK && i == queued - 1) {
			if (r->type != REDIS_REPLY_ARRAY)
				code = cq_err(err, CODEQ_ESTORE, "%s: the "
				    "transaction was aborted", what);
			for (j = 0; code == CODEQ_OK && j < r->elements; j++)
				if (r->element[j]->type == REDIS_REPLY_ERROR)
					code = cq_err(err, CODEQ_ESTORE, "%s: %s",
					    what, r->element[j]->str);
		}
		freeReplyObject(r);
	}
	return code;
}

/* Writes kv on store li as one transaction: DEL, the values, PEXPIRE. */
static int
write_kv(codeq_t *c, size_t li, const struct kv *kv, codeq_error *err)
{
	struct cmd *m;
	size_t queued = 0;
	char ttl[24];
	int code;

	if ((m = malloc(sizeof(*m))) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	snprintf(ttl, sizeof(ttl), "%" PRId64, kv->pttl);
	code = append_fmt(c, li, m, &queued, err, "MULTI", NULL, NULL);
	if (code == CODEQ_OK)
		code = append_fmt(c, li, m, &queued, err, "DEL", kv->key, NULL);
	if (code == CODEQ_OK)
		code = append_values(c, li, kv, m, &queued, err);
	if (code == CODEQ_OK && kv->pttl > 0)
		code = append_fmt(c, li, m, &queued, err, "PEXPIRE", kv->key,
		    ttl);
	if (code == CODEQ_OK)
		code = append_fmt(c, li, m, &queued, err, "EXEC", NULL, NULL);
	free(m);
	if (code != CODEQ_OK)
		return abandon(c, code);
	return exec_replies(c, queued, kv->key, err);
}

/* Deletes keys (and the marker) on store li in one transaction, so that
 * an interrupted finish deletes all or nothing. */
static int
delete_keys(codeq_t *c, size_t li, const char *queue, const struct snap *s,
    codeq_error *err)
{
	char marker[TASK_KEY_MAX];
	struct cmd *m;
	size_t i = 0, queued = 0;
	int code;

	if (key_queue(marker, sizeof(marker), queue, CODEQ_KEY_MOVE) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	if ((m = malloc(sizeof(*m))) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	code = append_fmt(c, li, m, &queued, err, "MULTI", NULL, NULL);
	if (code == CODEQ_OK)
		code = append_fmt(c, li, m, &queued, err, "DEL", marker, NULL);
	while (code == CODEQ_OK && i < s->n) {
		cmd_start(m, "DEL", NULL);
		for (; i < s->n && m->argc < CHUNK; i++) {
			m->argv[m->argc] = s->kv[i].key;
			m->lens[m->argc++] = strlen(s->kv[i].key);
		}
		queued++;
		code = store_link_append_argv(c, li, m->argc, m->argv, m->lens,
		    err);
	}
	if (code == CODEQ_OK)
		code = append_fmt(c, li, m, &queued, err, "EXEC", NULL, NULL);
	free(m);
	if (code != CODEQ_OK)
		return abandon(c, code);
	return exec_replies(c, queued, "DEL", err);
}

/* ---- where queues live --------------------------------------------------- */

/* n keys of queue on store (store == nstores: the registry's, no keys). */
struct hit {
	char *queue;
	size_t store, n;
};

struct hits {
	codeq_t *c;
	size_t li;
	struct hit *v;
	size_t n, cap;
};

static int
hit_add(struct hits *h, const char *queue, size_t store, size_t n,
    codeq_error *err)
{
	struct hit *v;

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 256;
		if ((v = realloc(h->v, h->cap * sizeof(*v))) == NULL)
			return cq_err(err, CODEQ_ENOMEM, "out of memory");
		h->v = v;
	}
	if ((h->v[h->n].queue = strdup(queue)) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	h->v[h->n].store = store;
	h->v[h->n++].n = n;
	return CODEQ_OK;
}

/* A key codeq:{Q}:... found by scanning store h->li counts for Q (keys
 * of names that are no queue's are left out, as codeq_queues does). */
static int
hit_key(void *arg, const char *key, codeq_error *err)
{
	struct hits *h = arg;
	const char *q = key + strlen(CODEQ_KEY_ANY_QUEUE) - 1, *end;
	char name[CODEQ_ID_MAX];

	if ((end = strchr(q, '}')) == NULL || end[1] != ':' ||
	    (size_t)(end - q) >= sizeof(name))
		return CODEQ_OK;
	memcpy(name, q, (size_t)(end - q));
	name[end - q] = '\0';
	if (!codeq_queue_name_valid(name))
		return CODEQ_OK;
	return hit_add(h, name, h->li, 1, err);
}

/* Every registered queue, and every key of any queue on every store. */
static int
hits_all(codeq_t *c, struct hits *h, codeq_error *err)
{
	char **names = NULL;
	size_t n = 0, i;
	int code;

	if ((code = codeq_queues(c, &names, &n, err)) != CODEQ_OK)
		return code;
	for (i = 0; i < n && code == CODEQ_OK; i++)
		code = hit_add(h, names[i], store_nlinks(c), 0, err);
	codeq_strv_free(names, n);
	/* "codeq:{" without the '*': scan_all adds it. */
	for (h->li = 0; h->li < store_nlinks(c) && code == CODEQ_OK; h->li++)
		code = scan_all(c, h->li, "codeq:{", hit_key, h, err);
	return code;
}

/* The keys of the queues named, store by store. */
static int
hits_of(codeq_t *c, const char *const *queues, size_t nq, struct hits *h,
    codeq_error *err)
{
	struct keylist l;
	size_t i, li;
	int code = CODEQ_OK;

	for (i = 0; i < nq && code == CODEQ_OK; i++) {
		if ((code = task_queue_check(queues[i], err)) != CODEQ_OK)
			return code;
		code = hit_add(h, queues[i], store_nlinks(c), 0, err);
		for (li = 0; li < store_nlinks(c) && code == CODEQ_OK; li++) {
			if ((code = list_keys(c, li, queues[i], &l, err)) ==
			    CODEQ_OK && l.n > 0)
				code = hit_add(h, queues[i], li, l.n, err);
			codeq_strv_free(l.v, l.n);
		}
	}
	return code;
}

static int
cmp_hit(const void *a, const void *b)
{
	return strcmp(((const struct hit *)a)->queue,
	    ((const struct hit *)b)->queue);
}

/* One placement per queue, in name order, from the hits. */
static int
aggregate(codeq_t *c, struct hits *h, codeq_placement **out, size_t *n,
    codeq_error *err)
{
	codeq_placement *p = NULL;
	size_t i, ns = store_nlinks(c);

	if (h->n > 0)
		qsort(h->v, h->n, sizeof(*h->v), cmp_hit);
	if ((p = calloc(h->n + 1, sizeof(*p))) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	*out = p;
	for (i = 0; i < h->n; i++) {
		if (*n == 0 || strcmp(p[*n - 1].queue, h->v[i].queue) != 0) {
			p[*n].keys = calloc(ns, sizeof(*p[*n].keys));
			if (p[*n].keys == NULL)
				return cq_err(err, CODEQ_ENOMEM, "out of memory");
			p[*n].queue = h->v[i].queue;
			h->v[i].queue = NULL;	/* now the placement's */
			p[*n].store = store_link_of_queue(c, p[*n].queue);
			p[*n].nstores = ns;
			(*n)++;
		}
		if (h->v[i].store < ns)
			p[*n - 1].keys[h->v[i].store] += h->v[i].n;
	}
	return CODEQ_OK;
}

int
codeq_shard_verify(codeq_t *c, const char *const *queues, size_t nqueues,
    codeq_placement **out, size_t *n, codeq_error *err)
{
	struct hits h = { .c = c };
	size_t i;
	int code;
	CQ_ERR_LOCAL(err);

	*out = NULL;
	*n = 0;
	if (queues != NULL)
		code = hits_of(c, queues, nqueues, &h, err);
	else
		code = hits_all(c, &h, err);
	if (code == CODEQ_OK)
		code = aggregate(c, &h, out, n, err);
	for (i = 0; i < h.n; i++)
		free(h.v[i].queue);
	free(h.v);
	if (code != CODEQ_OK) {
		codeq_placements_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return code;
}

void
codeq_placements_free(codeq_placement *p, size_t n)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(p[i].queue);
		free(p[i].keys);
	}
	free(p);
}

/* ---- moving a queue: step 1, the copy ------------------------------------ */

/* A store for messages, as two %s: "home", or "shard NAME". */
#define NAMED(c, i) (i) > 0 ? "shard " : "", codeq_store_name(c, i)

/* What work on a queue changes: its leases, its task counter and its
 * counters. */
struct quiet {
	long long leased;
	uint64_t digest;
};

static int
quiet_read(codeq_t *c, size_t li, const char *queue, struct quiet *q,
    codeq_error *err)
{
	static const char *const names[] = { CODEQ_KEY_SEQ, CODEQ_KEY_STATS };
	char key[TASK_KEY_MAX];
	struct kv kv[2];
	struct snap s = { .kv = kv };
	redisReply *r;
	int code = CODEQ_OK;
	size_t i;

	if (key_queue(key, sizeof(key), queue, CODEQ_KEY_LEASED) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	if ((r = store_link_command(c, li, err, "ZCARD %s", key)) == NULL)
		return err->code;
	q->leased = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	freeReplyObject(r);
	if (q->leased < 0)
		return cq_err(err, CODEQ_EPROTO, "ZCARD %s: bad reply", key);
	for (i = 0; i < 2 && code == CODEQ_OK; i++) {
		key_queue(key, sizeof(key), queue, names[i]);
		if ((code = read_kv(c, li, key, &kv[s.n], err)) == CODEQ_OK)
			s.n++;
		else if (code == CODEQ_ENOTFOUND)
			code = CODEQ_OK;
	}
	/* The digest skips keys with an expiry: these two have none. */
	q->digest = snap_digest(&s);
	while (s.n > 0)
		kv_clear(&kv[--s.n]);
	return code;
}

static int
quiet_check(codeq_t *c, size_t li, const char *queue, struct quiet *q,
    codeq_error *err)
{
	int code;

	if ((code = quiet_read(c, li, queue, q, err)) != CODEQ_OK)
		return code;
	if (q->leased > 0)
		return cq_err(err, CODEQ_ESTATE, "queue %s has %lld leased "
		    "task%s on %s%s: stop its producers and workers first (remove "
		    "it from the pools, reload codeqd), then rerun", queue,
		    q->leased, q->leased == 1 ? "" : "s", NAMED(c, li));
	return CODEQ_OK;
}

/* Records on the source where the copy went and a digest of it. */
static int
write_marker(codeq_t *c, const char *queue, const codeq_move *m,
    uint64_t digest, codeq_error *err)
{
	char key[TASK_KEY_MAX], hex[20], keys[24];
	redisReply *r;
	int code;

	if (key_queue(key, sizeof(key), queue, CODEQ_KEY_MOVE) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	snprintf(hex, sizeof(hex), "%016" PRIx64, digest);
	snprintf(keys, sizeof(keys), "%zu", m->keys);
	r = store_link_command(c, m->from, err, "HSET %s to %s digest %s "
	    "keys %s", key, codeq_store_name(c, m->to), hex, keys);
	if (r == NULL)
		return err->code;
	code = store_reply_ok(r, key, err);
	freeReplyObject(r);
	return code;
}

/* After the copy: both stores hold the same keys with the same contents,
 * and nothing worked on the queue meanwhile.  *digest: the source's. */
static int
check_copy(codeq_t *c, const char *queue, const codeq_move *m,
    const struct quiet *before, uint64_t *digest, codeq_error *err)
{
	struct snap src, dst = { 0 };
	struct quiet after;
	const char *diff = NULL;
	int code;

	if ((code = snap_read(c, m->from, queue, &src, err)) != CODEQ_OK)
		return code;
	if ((code = snap_read(c, m->to, queue, &dst, err)) != CODEQ_OK)
		goto out;
	if ((code = quiet_read(c, m->from, queue, &after, err)) != CODEQ_OK)
		goto out;
	if ((diff = snap_first_difference(&src, &dst)) == NULL)
		diff = snap_first_difference(&dst, &src);
	if (diff != NULL || after.leased != before->leased ||
	    after.digest != before->digest)
		code = cq_err(err, CODEQ_ESTATE, "queue %s changed during the "
		    "copy (%s): stop its producers and workers, then rerun",
		    queue, diff != NULL ? diff : "its counters or leases");
	*digest = snap_digest(&src);
out:
	snap_free(&src);
	snap_free(&dst);
	return code;
}

/* Writes the keys of src the destination lacks or holds otherwise. */
static int
copy_keys(codeq_t *c, const struct snap *src, const struct snap *dst,
    codeq_move *m, codeq_error *err)
{
	const struct kv *o;
	size_t i;
	int code;

	for (i = 0; i < src->n; i++) {
		if ((o = snap_find(dst, src->kv[i].key)) != NULL &&
		    kv_equal(&src->kv[i], o))
			continue;
		if ((code = write_kv(c, m->to, &src->kv[i], err)) != CODEQ_OK)
			return code;
		m->copied++;
	}
	return CODEQ_OK;
}

static int
move_args(codeq_t *c, const char *queue, size_t to, codeq_move *m,
    codeq_error *err)
{
	int code;

	memset(m, 0, sizeof(*m));
	if ((code = task_queue_check(queue, err)) != CODEQ_OK)
		return code;
	if (to >= store_nlinks(c))
		return cq_err(err, CODEQ_EINVAL, "store %zu: no such store", to);
	m->from = store_link_of_queue(c, queue);
	m->to = to;
	return CODEQ_OK;
}

int
codeq_shard_copy(codeq_t *c, const char *queue, size_t to, int dry_run,
    codeq_move *m, codeq_error *err)
{
	struct snap src = { 0 }, dst = { 0 };
	struct quiet before;
	const char *diff;
	uint64_t digest = 0;
	int code;
	CQ_ERR_LOCAL(err);

	if ((code = move_args(c, queue, to, m, err)) != CODEQ_OK)
		return code;
	if (m->from == to)
		return cq_err(err, CODEQ_EINVAL, "the map puts %s on %s already",
		    queue, codeq_store_name(c, to));
	if ((code = quiet_check(c, m->from, queue, &before, err)) != CODEQ_OK)
		return code;
	if ((code = snap_read(c, m->from, queue, &src, err)) != CODEQ_OK)
		goto fail;
	if ((code = snap_read(c, to, queue, &dst, err)) != CODEQ_OK)
		goto fail;
	if (src.n == 0) {
		code = cq_err(err, CODEQ_ENOTFOUND, "no keys of %s on %s%s",
		    queue, NAMED(c, m->from));
		goto fail;
	}
	/* What the destination holds must be a copy of the source's: an
	 * interrupted run's.  Anything else is another queue's data. */
	if ((diff = snap_first_difference(&dst, &src)) != NULL) {
		code = cq_err(err, CODEQ_ESTATE, "%s%s holds keys of %s that "
		    "are not %s%s's (%s): not an earlier copy; delete them "
		    "first", NAMED(c, to), queue, NAMED(c, m->from), diff);
		goto fail;
	}
	m->keys = src.n;
	m->identical = dst.n;
	if (!dry_run && (code = copy_keys(c, &src, &dst, m, err)) == CODEQ_OK &&
	    (code = check_copy(c, queue, m, &before, &digest, err)) == CODEQ_OK)
		code = write_marker(c, queue, m, digest, err);
fail:
	snap_free(&src);
	snap_free(&dst);
	return code;
}

/* ---- moving a queue: step 2, deleting the source's keys ------------------ */

/* The one store other than m->to holding keys of queue, in m->from;
 * *found 0 when none does. */
static int
find_source(codeq_t *c, const char *queue, codeq_move *m, int *found,
    codeq_error *err)
{
	struct keylist l;
	size_t li;
	int code = CODEQ_OK;

	*found = 0;
	for (li = 0; li < store_nlinks(c) && code == CODEQ_OK; li++) {
		if (li == m->to)
			continue;
		if ((code = list_keys(c, li, queue, &l, err)) == CODEQ_OK &&
		    l.n > 0) {
			if ((*found)++ > 0)
				code = cq_err(err, CODEQ_ESTATE, "keys of %s on "
				    "%s and %s, besides %s: finish by hand",
				    queue, codeq_store_name(c, m->from),
				    codeq_store_name(c, li),
				    codeq_store_name(c, m->to));
			m->from = li;
		}
		codeq_strv_free(l.v, l.n);
	}
	return code;
}

/* The marker's digest, checking that the copy went to m->to. */
static int
read_marker(codeq_t *c, const char *queue, const codeq_move *m,
    uint64_t *digest, codeq_error *err)
{
	char key[TASK_KEY_MAX];
	redisReply *r;
	int code = CODEQ_OK;

	if (key_queue(key, sizeof(key), queue, CODEQ_KEY_MOVE) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	if ((r = store_link_command(c, m->from, err, "HMGET %s to digest",
	    key)) == NULL)
		return err->code;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING)
		code = cq_err(err, CODEQ_ESTATE, "no verified copy of %s from "
		    "%s is recorded: its keys are left alone (restore the map "
		    "and run the move without --finish first)", queue,
		    codeq_store_name(c, m->from));
	else if (strcmp(r->element[0]->str, codeq_store_name(c, m->to)) != 0)
		code = cq_err(err, CODEQ_ESTATE, "%s was copied from %s to %s, "
		    "not to %s", queue, codeq_store_name(c, m->from),
		    r->element[0]->str, codeq_store_name(c, m->to));
	else
		*digest = strtoull(r->element[1]->str, NULL, 16);
	freeReplyObject(r);
	return code;
}

/* The destination still has the queue's task counter, if the source has
 * one (it is never deleted): the copy was not lost since. */
static int
check_destination(codeq_t *c, const char *queue, const codeq_move *m,
    const struct snap *src, codeq_error *err)
{
	char key[TASK_KEY_MAX];
	redisReply *r;
	int code = CODEQ_OK;

	if (key_queue(key, sizeof(key), queue, CODEQ_KEY_SEQ) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	if (snap_find(src, key) == NULL)
		return CODEQ_OK;
	if ((r = store_link_command(c, m->to, err, "EXISTS %s", key)) == NULL)
		return err->code;
	if (r->type != REDIS_REPLY_INTEGER || r->integer != 1)
		code = cq_err(err, CODEQ_ESTATE, "%s has no %s: is the copy "
		    "gone? the keys on %s are left alone", codeq_store_name(c,
		    m->to), key, codeq_store_name(c, m->from));
	freeReplyObject(r);
	return code;
}

int
codeq_shard_finish(codeq_t *c, const char *queue, size_t to, int dry_run,
    codeq_move *m, codeq_error *err)
{
	struct snap src = { 0 };
	uint64_t digest = 0;
	int code, found;
	CQ_ERR_LOCAL(err);

	if ((code = move_args(c, queue, to, m, err)) != CODEQ_OK)
		return code;
	if (m->from != to)
		return cq_err(err, CODEQ_ESTATE, "the map still puts %s on %s%s: "
		    "change the configuration first", queue, NAMED(c, m->from));
	if ((code = find_source(c, queue, m, &found, err)) != CODEQ_OK)
		return code;
	if (found == 0) {
		m->already = 1;
		return CODEQ_OK;
	}
	if ((code = read_marker(c, queue, m, &digest, err)) != CODEQ_OK)
		return code;
	if ((code = snap_read(c, m->from, queue, &src, err)) != CODEQ_OK)
		goto fail;
	/* Unchanged since the verified copy: nothing done there is lost. */
	if (snap_digest(&src) != digest) {
		code = cq_err(err, CODEQ_ESTATE, "%s changed on %s%s since it "
		    "was copied to %s%s (work done there would be lost): its "
		    "keys are left alone", queue, NAMED(c, m->from),
		    NAMED(c, to));
		goto fail;
	}
	if ((code = check_destination(c, queue, m, &src, err)) != CODEQ_OK)
		goto fail;
	m->keys = src.n;
	if (!dry_run && (code = delete_keys(c, m->from, queue, &src, err)) ==
	    CODEQ_OK)
		m->deleted = src.n;
fail:
	snap_free(&src);
	return code;
}
