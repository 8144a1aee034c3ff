/*
 * fsck.c: checking invariant 2 (a live task is in exactly one place, the
 * one its status names) and repairing what is broken.
 *
 * Scanning is client-side and chunked (LRANGE/ZRANGE/SCAN), so it never
 * blocks the store; on a busy queue a scan can see a task mid-move, so
 * every suspect is checked again on its own (LPOS/ZSCORE/HMGET) before it
 * is reported.  A repair is one script per task (fsck_repair.lua) that
 * puts the task where its status says; it is safe even on a live queue.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "scripts.h"
#include "store.h"
#include "task.h"

#define CHUNK 1000
#define W_DELAYED 10
#define W_LEASED 11
#define W_DLQ 12
#define W_N 13
#define NO_HASH (-1)

struct entry {
	char *id;
	unsigned int where;	/* bit per container: ready:0-9, delayed... */
	int status;		/* codeq_task_status, or NO_HASH */
	int prio;
};

struct fsck {
	codeq_t *c;
	const char *queue;
	int repair;
	codeq_fsck_report report;
	void *arg;
	size_t problems;
	struct entry *v;
	size_t n, cap;
};

/* The NAME of container w's key codeq:{Q}:NAME, for messages. */
static const char *
where_name(int w, char *buf, size_t len)
{
	if (w < CODEQ_PRIORITIES)
		snprintf(buf, len, CODEQ_KEY_READY ":%d", w);
	else
		snprintf(buf, len, "%s", w == W_DELAYED ? CODEQ_KEY_DELAYED :
		    w == W_LEASED ? CODEQ_KEY_LEASED : CODEQ_KEY_DLQ);
	return buf;
}

/* The key of container w of queue (ready lists 0-9, delayed, leased,
 * dlq).  0, or -1 when it does not fit len. */
static int
where_key(int w, const char *queue, char *buf, size_t len)
{
	char name[16];

	if (w < CODEQ_PRIORITIES)
		return key_ready(buf, len, queue, w);
	return key_queue(buf, len, queue, where_name(w, name, sizeof(name)));
}

static int
add(struct fsck *f, const char *id, unsigned int where, codeq_error *err)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 1024;
		struct entry *v = realloc(f->v, cap * sizeof(*v));
		if (v == NULL)
			return cq_err(err, CODEQ_ENOMEM, "out of memory");
		f->v = v;
		f->cap = cap;
	}
	if ((f->v[f->n].id = strdup(id)) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	f->v[f->n].where = where;
	f->v[f->n].status = NO_HASH;
	f->v[f->n].prio = -1;
	f->n++;
	return CODEQ_OK;
}

/* Reads one container in chunks: a list (LRANGE) or a zset (ZRANGE). */
static int
scan_container(struct fsck *f, int w, codeq_error *err)
{
	char key[TASK_KEY_MAX];
	redisReply *r;
	long long start = 0;
	size_t i;
	int code = CODEQ_OK;

	if (where_key(w, f->queue, key, sizeof(key)) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	for (;;) {
		if (w == W_DELAYED || w == W_LEASED)
			r = store_command(f->c, err, "ZRANGE %s %lld %lld", key,
			    start, start + CHUNK - 1);
		else
			r = store_command(f->c, err, "LRANGE %s %lld %lld", key,
			    start, start + CHUNK - 1);
		if (r == NULL)
			return err->code;
		if (r->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return cq_err(err, CODEQ_EPROTO,
			    "store: %s is not a list or sorted set", key);
		}
		for (i = 0; i < r->elements && code == CODEQ_OK; i++)
			if (r->element[i]->type == REDIS_REPLY_STRING)
				code = add(f, r->element[i]->str, 1u << w, err);
		i = r->elements;
		freeReplyObject(r);
		if (code != CODEQ_OK || i < CHUNK)
			return code;
		start += CHUNK;
	}
}

static int
cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->id,
	    ((const struct entry *)b)->id);
}

/* Sorts by id and merges duplicates (an id in two containers, or twice in
 * one list, which counts as two places too). */
static void
merge(struct fsck *f)
{
	size_t i, o = 0;

	if (f->n == 0)
		return;
	qsort(f->v, f->n, sizeof(*f->v), cmp_entry);
	for (i = 1; i < f->n; i++) {
		if (strcmp(f->v[i].id, f->v[o].id) == 0) {
			if (f->v[o].where & f->v[i].where)
				f->v[o].where |= 1u << W_N;	/* twice */
			f->v[o].where |= f->v[i].where;
			free(f->v[i].id);
		} else
			f->v[++o] = f->v[i];
	}
	f->n = o + 1;
}

static int
status_of(const redisReply *st)
{
	if (st->type != REDIS_REPLY_STRING)
		return NO_HASH;
	return task_status_parse(st->str);
}

/* Task hashes: SCAN MATCH codeq:{Q}:t:*, then HMGET status priority of
 * each (pipelined per SCAN chunk).  Hashes of ids seen in a container get
 * their status recorded; live hashes in no container are added.  Only
 * the sorted prefix [0, nsorted) is searched. */
static int
scan_hashes(struct fsck *f, codeq_error *err)
{
	char pattern[TASK_KEY_MAX], cursor[32] = "0", id[CODEQ_ID_MAX];
	size_t plen, i, nkeys, nsorted = f->n;
	redisReply *r, *h;
	struct entry key, *e;
	int code = CODEQ_OK, st, prio;

	if (key_task_pattern(pattern, sizeof(pattern), f->queue) < 0)
		return cq_err(err, CODEQ_EINVAL, "queue: name too long");
	plen = strlen(pattern) - 1;	/* the prefix before the '*' */
	do {
		/* SCAN has no key: it goes to the queue's store by name. */
		r = store_link_command(f->c, store_link_of_queue(f->c,
		    f->queue), err, "SCAN %s MATCH %s COUNT %d", cursor,
		    pattern, CHUNK);
		if (r == NULL)
			return err->code;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return cq_err(err, CODEQ_EPROTO, "store: bad SCAN reply");
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		nkeys = r->element[1]->elements;
		for (i = 0; i < nkeys && code == CODEQ_OK; i++)
			code = store_append_command(f->c, err,
			    "HMGET %s status priority",
			    r->element[1]->element[i]->str);
		for (i = 0; i < nkeys && code == CODEQ_OK; i++) {
			if ((h = store_get_reply(f->c, err)) == NULL) {
				code = err->code;
				break;
			}
			st = NO_HASH;
			prio = -1;
			if (h->type == REDIS_REPLY_ARRAY && h->elements == 2) {
				st = status_of(h->element[0]);
				if (h->element[1]->type == REDIS_REPLY_STRING)
					prio = atoi(h->element[1]->str);
			}
			freeReplyObject(h);
			if (st == NO_HASH)	/* expired meanwhile */
				continue;
			snprintf(id, sizeof(id), "%s:%s", f->queue,
			    r->element[1]->element[i]->str + plen);
			key.id = id;
			e = nsorted ? bsearch(&key, f->v, nsorted,
			    sizeof(*f->v), cmp_entry) : NULL;
			if (e == NULL && st != CODEQ_COMPLETED &&
			    st != CODEQ_FAILED &&
			    (code = add(f, id, 0, err)) == CODEQ_OK)
				e = &f->v[f->n - 1];
			if (e != NULL) {
				e->status = st;
				e->prio = prio;
			}
		}
		freeReplyObject(r);
		if (code != CODEQ_OK)
			return code;
	} while (strcmp(cursor, "0") != 0);
	return CODEQ_OK;
}

/* Describes what is wrong with a task found in `where` whose hash says
 * status/prio; problem[0] == '\0' when nothing is. */
static void
evaluate(unsigned int where, int status, int prio, char *problem, size_t len)
{
	unsigned int want;
	char name[16];
	size_t o;
	int w;

	problem[0] = '\0';
	switch (status) {
	case NO_HASH:
		if (where == 0)
			return;		/* gone meanwhile: fine */
		snprintf(problem, len, "no task hash, but listed in");
		break;
	case CODEQ_READY:
		want = prio >= 0 && prio <= 9 ? 1u << prio : 0;
		goto compare;
	case CODEQ_DELAYED:
		want = 1u << W_DELAYED;
		goto compare;
	case CODEQ_LEASED:
		want = 1u << W_LEASED;
		goto compare;
	case CODEQ_DEAD:
		want = 1u << W_DLQ;
		goto compare;
	case CODEQ_COMPLETED:
	case CODEQ_FAILED:
		want = 0;
	compare:
		if (where == want)
			return;
		snprintf(problem, len, "status %s (priority %d) but %s",
		    codeq_status_name(status), prio,
		    where == 0 ? "in no container" : "listed in");
		break;
	default:
		snprintf(problem, len, "unknown status, listed in%s",
		    where == 0 ? " nothing" : "");
		break;
	}
	for (w = 0; w < W_N; w++) {
		if (!(where & (1u << w)))
			continue;
		o = strlen(problem);
		snprintf(problem + o, len - o, " %s", where_name(w, name,
		    sizeof(name)));
	}
	if (where & (1u << W_N)) {
		o = strlen(problem);
		snprintf(problem + o, len - o, " (more than once)");
	}
}

/* Re-reads everything about one suspect id on its own (a scan can see a
 * task mid-move); problem[0] == '\0' when it is fine after all. */
static int
examine(struct fsck *f, const char *id, char *problem, size_t len,
    codeq_error *err)
{
	char q[CODEQ_ID_MAX], key[TASK_KEY_MAX], ckey[TASK_KEY_MAX];
	redisReply *r[W_N + 1];
	unsigned int where = 0;
	int w, status, prio = 0, code = CODEQ_OK, got = 0;

	if (task_id_split(id, q, sizeof(q), key, sizeof(key), err) != CODEQ_OK ||
	    strcmp(q, f->queue) != 0) {
		snprintf(problem, len, "malformed id in a container of %s",
		    f->queue);
		return CODEQ_OK;
	}
	for (w = 0; w < W_N && code == CODEQ_OK; w++) {
		if (where_key(w, f->queue, ckey, sizeof(ckey)) < 0)
			return cq_err(err, CODEQ_EINVAL, "queue: name too long");
		if (w == W_DELAYED || w == W_LEASED)
			code = store_append_command(f->c, err, "ZSCORE %s %s",
			    ckey, id);
		else
			code = store_append_command(f->c, err,
			    "LPOS %s %s COUNT 0", ckey, id);
	}
	if (code == CODEQ_OK)
		code = store_append_command(f->c, err,
		    "HMGET %s status priority", key);
	for (got = 0; got <= W_N && code == CODEQ_OK; got++)
		if ((r[got] = store_get_reply(f->c, err)) == NULL)
			code = err->code;
	if (code != CODEQ_OK) {
		while (got-- > 0)
			freeReplyObject(r[got]);
		return code;
	}
	for (w = 0; w < W_N; w++) {
		size_t count = r[w]->type == REDIS_REPLY_ARRAY ? r[w]->elements :
		    r[w]->type == REDIS_REPLY_STRING ? 1 : 0;
		if (count > 0)
			where |= 1u << w;
		if (count > 1)
			where |= 1u << W_N;
	}
	status = NO_HASH;
	if (r[W_N]->type == REDIS_REPLY_ARRAY && r[W_N]->elements == 2) {
		status = status_of(r[W_N]->element[0]);
		if (r[W_N]->element[1]->type == REDIS_REPLY_STRING)
			prio = atoi(r[W_N]->element[1]->str);
	}
	for (w = 0; w <= W_N; w++)
		freeReplyObject(r[w]);

	evaluate(where, status, prio, problem, len);
	return CODEQ_OK;
}

static int
repair_one(struct fsck *f, const char *id, codeq_error *err)
{
	char q[CODEQ_ID_MAX], key[TASK_KEY_MAX], ret[24];
	const char *argv[4];
	redisReply *r;
	int code;

	if ((code = task_id_split(id, q, sizeof(q), key, sizeof(key), err)))
		return code;
	snprintf(ret, sizeof(ret), "%lld", (long long)f->c->retention_ms);
	argv[0] = key;
	argv[1] = f->queue;
	argv[2] = id;
	argv[3] = ret;
	if ((r = script_run(f->c, CODEQ_SCRIPT_FSCK_REPAIR, 1, 4, argv, NULL, err)) == NULL)
		return err->code;
	code = script_status(r, err);
	freeReplyObject(r);
	return code;
}

/* Malformed ids cannot go through fsck_repair (its KEYS[1] is built
 * from the id): remove them from every container directly. */
static int
remove_malformed(struct fsck *f, const char *id, codeq_error *err)
{
	char key[TASK_KEY_MAX];
	redisReply *r;
	int w;

	for (w = 0; w < W_N; w++) {
		if (where_key(w, f->queue, key, sizeof(key)) < 0)
			return cq_err(err, CODEQ_EINVAL, "queue: name too long");
		if (w == W_DELAYED || w == W_LEASED)
			r = store_command(f->c, err, "ZREM %s %s", key, id);
		else
			r = store_command(f->c, err, "LREM %s 0 %s", key, id);
		if (r == NULL)
			return err->code;
		freeReplyObject(r);
	}
	return CODEQ_OK;
}

static int
check_queue(struct fsck *f, codeq_error *err)
{
	char problem[200];
	size_t i;
	int w, code = CODEQ_OK, repaired;
	codeq_error e;

	for (w = 0; w < W_N && code == CODEQ_OK; w++)
		code = scan_container(f, w, err);
	if (code == CODEQ_OK)
		merge(f);
	if (code == CODEQ_OK)
		code = scan_hashes(f, err);
	for (i = 0; i < f->n && code == CODEQ_OK; i++) {
		evaluate(f->v[i].where, f->v[i].status, f->v[i].prio, problem,
		    sizeof(problem));
		if (problem[0] == '\0')
			continue;
		if ((code = examine(f, f->v[i].id, problem, sizeof(problem),
		    err)) != CODEQ_OK || problem[0] == '\0')
			continue;
		f->problems++;
		repaired = 0;
		if (f->repair) {
			if (strncmp(problem, "malformed", 9) == 0)
				code = remove_malformed(f, f->v[i].id, &e);
			else
				code = repair_one(f, f->v[i].id, &e);
			if (code == CODEQ_ESTORE) {
				*err = e;
				break;
			}
			repaired = code == CODEQ_OK;
			code = CODEQ_OK;
		}
		if (f->report != NULL)
			f->report(f->arg, f->queue, f->v[i].id, problem, repaired);
	}
	for (i = 0; i < f->n; i++)
		free(f->v[i].id);
	f->n = 0;
	return code;
}

/* A queue q whose seq key is on store li: one to check when the registry
 * lacks it (added to it on repair).  A queue whose keys are on a store
 * the shard map does not put it on (the map changed under it) is
 * reported; fsck cannot move it. */
static int
found_queue(struct fsck *f, size_t li, const char *q, char ***names,
    size_t *n, codeq_error *err)
{
	size_t j, home = store_link_of_queue(f->c, q);
	char why[sizeof(f->c->links[0].label) + 64];
	redisReply *a;
	char **v;

	if (home != li) {
		f->problems++;
		snprintf(why, sizeof(why), "keys on %s, which is not the "
		    "queue's store", f->c->links[li].label);
		if (f->report != NULL)
			f->report(f->arg, q, NULL, why, 0);
	}
	for (j = 0; j < *n; j++)
		if (strcmp((*names)[j], q) == 0)
			return CODEQ_OK;
	f->problems++;
	if (f->repair && (a = store_command(f->c, err, "SADD %s %s",
	    CODEQ_KEY_QUEUES, q)) != NULL)
		freeReplyObject(a);
	if (f->report != NULL)
		f->report(f->arg, q, NULL, "queue missing from " CODEQ_KEY_QUEUES,
		    f->repair);
	if ((v = realloc(*names, (*n + 2) * sizeof(*v))) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	*names = v;
	if ((v[*n] = strdup(q)) == NULL)
		return cq_err(err, CODEQ_ENOMEM, "out of memory");
	(*n)++;
	return CODEQ_OK;
}

/* The queues of store li, found by their seq keys. */
static int
scan_store(struct fsck *f, size_t li, char ***names, size_t *n,
    codeq_error *err)
{
	char cursor[32] = "0", q[CODEQ_ID_MAX];
	redisReply *r;
	size_t i;
	int code = CODEQ_OK;

	do {
		/* A prefix pattern: KVRocks matches SCAN patterns by prefix
		 * only in some versions; the suffix is checked here. */
		r = store_link_command(f->c, li, err, "SCAN %s MATCH %s COUNT %d",
		    cursor, CODEQ_KEY_ANY_QUEUE, CHUNK);
		if (r == NULL)
			return err->code;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
			freeReplyObject(r);
			return cq_err(err, CODEQ_EPROTO, "%s: bad SCAN reply",
			    f->c->links[li].label);
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (i = 0; i < r->element[1]->elements && code == CODEQ_OK; i++)
			if (key_seq_queue(r->element[1]->element[i]->str, q,
			    sizeof(q)) == 0 && codeq_queue_name_valid(q))
				code = found_queue(f, li, q, names, n, err);
		freeReplyObject(r);
	} while (code == CODEQ_OK && strcmp(cursor, "0") != 0);
	return code;
}

/* Queues known to codeq:queues (on the home) plus those found by their
 * seq key on any store. */
static int
registry(struct fsck *f, char ***names, size_t *n, codeq_error *err)
{
	size_t li;
	int code;

	if ((code = codeq_queues(f->c, names, n, err)) != CODEQ_OK)
		return code;
	for (li = 0; li < store_nlinks(f->c) && code == CODEQ_OK; li++)
		code = scan_store(f, li, names, n, err);
	return code;
}

int
codeq_fsck(codeq_t *c, const char *queue, int repair,
    codeq_fsck_report report, void *arg, size_t *problems, codeq_error *err)
{
	struct fsck f = { .c = c, .repair = repair, .report = report,
	    .arg = arg };
	char **names = NULL;
	size_t n = 0, i;
	int code = CODEQ_OK;
	CQ_ERR_LOCAL(err);

	if (problems != NULL)
		*problems = 0;
	if (queue != NULL) {
		if ((code = task_queue_check(queue, err)) != CODEQ_OK)
			return code;
		f.queue = queue;
		code = check_queue(&f, err);
	} else {
		code = registry(&f, &names, &n, err);
		for (i = 0; i < n && code == CODEQ_OK; i++) {
			f.queue = names[i];
			code = check_queue(&f, err);
		}
		codeq_strv_free(names, n);
	}
	free(f.v);
	if (problems != NULL)
		*problems = f.problems;
	return code;
}
