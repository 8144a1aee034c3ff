/*
 * keys.h - the names of the storage protocol, as the C side writes them:
 * every key, pub/sub channel and script name that codeq's C code uses is
 * defined here and nowhere else (docs/storage.md says what each holds and
 * who writes it).  The Lua scripts of lib/scripts/ are the protocol itself
 * and build the same keys from their ARGV[1] ('codeq:{' .. Q .. '}:...').
 *
 * Every key of a queue Q is codeq:{Q}:NAME: the hash tag {Q} puts all of
 * them in one slot (invariant 5).  The builders write a key into buf and
 * return 0, or -1 when it does not fit len (buf then holds it cut to
 * len - 1 bytes, another key).  They cost one snprintf, like the code
 * they replaced: the claim and enqueue paths build a key per call.
 */
#ifndef CODEQ_KEYS_H
#define CODEQ_KEYS_H

#include <stddef.h>
#include <stdint.h>

/* ---- Keys outside any queue's slot ---------------------------------- */

#define CODEQ_KEY_QUEUES	"codeq:queues"	/* set: the queue registry */
#define CODEQ_KEY_SUBS		"codeq:subs"	/* zset: subscription ids */
/* SCAN pattern matching every key of every queue (and no other). */
#define CODEQ_KEY_ANY_QUEUE	"codeq:{*"

/* ---- Pub/sub channels (messages "Q N" and "Q WAIT_MS") -------------- */

#define CODEQ_CH_READY		"codeq:ready"
#define CODEQ_CH_DELAYED	"codeq:delayed"

/* ---- The NAME of a queue's key codeq:{Q}:NAME ----------------------- */

#define CODEQ_KEY_READY		"ready"		/* list per priority: ready:P */
#define CODEQ_KEY_SEQ		"seq"		/* string: last task number */
#define CODEQ_KEY_DELAYED	"delayed"	/* zset: score = due time */
#define CODEQ_KEY_LEASED	"leased"	/* zset: score = lease expiry */
#define CODEQ_KEY_DLQ		"dlq"		/* list: dead-lettered ids */
#define CODEQ_KEY_STATS		"stats"		/* hash: counters */
#define CODEQ_KEY_CONF		"conf"		/* hash: backoff settings */
#define CODEQ_KEY_OUTBOX	"outbox"	/* zset: callback items */
#define CODEQ_KEY_CBDLQ		"cbdlq"		/* list: dead callback items */
#define CODEQ_KEY_MOVE		"move"		/* hash: a copy to another store
						 * (lib/shard.c), on the source */

/* The ready lists: codeq:{Q}:ready:0 .. codeq:{Q}:ready:9 (9 first). */
#define CODEQ_PRIORITIES	10

/* ---- Script names (lib/scripts/NAME.lua, run with script_run) ------- */

#define CODEQ_SCRIPT_ENQUEUE		"enqueue"
#define CODEQ_SCRIPT_CLAIM		"claim"
#define CODEQ_SCRIPT_HEARTBEAT		"heartbeat"
#define CODEQ_SCRIPT_COMPLETE		"complete"
#define CODEQ_SCRIPT_FAIL		"fail"
#define CODEQ_SCRIPT_NACK		"nack"
#define CODEQ_SCRIPT_RELEASE		"release"
#define CODEQ_SCRIPT_PROMOTE		"promote"
#define CODEQ_SCRIPT_REAP		"reap"
#define CODEQ_SCRIPT_DLQ_REQUEUE	"dlq_requeue"
#define CODEQ_SCRIPT_DLQ_PURGE		"dlq_purge"
#define CODEQ_SCRIPT_STATS		"stats"
#define CODEQ_SCRIPT_FSCK_REPAIR	"fsck_repair"
#define CODEQ_SCRIPT_CB_TAKE		"cb_take"
#define CODEQ_SCRIPT_CB_ACK		"cb_ack"
#define CODEQ_SCRIPT_CB_RETRY		"cb_retry"
#define CODEQ_SCRIPT_CB_DEAD		"cb_dead"
#define CODEQ_SCRIPT_CB_DLQ_REPLAY	"cb_dlq_replay"
#define CODEQ_SCRIPT_CB_DLQ_PURGE	"cb_dlq_purge"

/* ---- Builders --------------------------------------------------------- */

/* codeq:{Q}:NAME, NAME one of the CODEQ_KEY_* names above. */
int key_queue(char *buf, size_t len, const char *queue, const char *name);
/* codeq:{Q}:ready:P, the ready list of priority prio (0-9). */
int key_ready(char *buf, size_t len, const char *queue, int prio);
/* codeq:{Q}:t:SEQ, the hash of task Q:SEQ. */
int key_task(char *buf, size_t len, const char *queue, const char *seq);
/* codeq:{Q}:t:*, a SCAN pattern for every task hash of Q. */
int key_task_pattern(char *buf, size_t len, const char *queue);
/* codeq:{Q}:claim:W, the last claims of worker W. */
int key_claim(char *buf, size_t len, const char *queue, const char *worker);
/* codeq:{Q}:cb:N, callback item N (its number as the store wrote it). */
int key_cb(char *buf, size_t len, const char *queue, const char *n);
/* codeq:sub:ID, a WORK_AVAILABLE subscription. */
int key_sub(char *buf, size_t len, const char *id);

/* The Q of a key codeq:{Q}:seq (every queue has one, so fsck finds
 * queues missing from the registry by it): 0, or -1 when key is not
 * such a key or Q does not fit qlen. */
int key_seq_queue(const char *key, char *queue, size_t qlen);

#endif
