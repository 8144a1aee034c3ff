/*
 * subscriber.h - the one way codeq's daemons listen to the store's
 * channels (codeq:ready, codeq:delayed): codeqd's wake-ups and
 * promotions, codeq-api's long polls, the notifier's WORK_AVAILABLE.
 *
 * A queue's scripts publish on the store that holds the queue, so with
 * [shard NAME]s there is one subscription per store (the home first,
 * then each shard in the file's order).  Each link reconnects on its own
 * with a backoff (100 ms doubling to 5 s) and keeps TCP keepalive on, so
 * a vanished store is noticed although a subscriber only reads.
 *
 * Messages are advisory: one published while a link was down is lost,
 * which is why on_subscribed is called at every (re)subscription, for
 * the caller to look for what it missed.
 */
#ifndef CODEQ_SUBSCRIBER_H
#define CODEQ_SUBSCRIBER_H

#include <stddef.h>

#include <ev.h>

#include "conf.h"

struct subscriber;

struct subscriber_cbs {
	/* Subscribed (again) to channel on store (0: the home). */
	void (*on_subscribed)(void *priv, const char *channel, size_t store);
	/* A "QUEUE N" message on channel; queue is a valid queue name. */
	void (*on_message)(void *priv, const char *channel, const char *queue,
	    long long n);
};

/* Subscribes to channels (at most 4) on every store of cfg; what names
 * the links in log lines ("work notifications").  The passwords are read
 * now.  NULL with why in err (a password file, memory); a store that is
 * down is not an error: its link keeps trying. */
struct subscriber *subscriber_start(struct ev_loop *loop,
    const struct codeq_config *cfg, const char *const *channels,
    size_t nchannels, const struct subscriber_cbs *cbs, void *priv,
    const char *what, char *err, size_t errlen);
/* Links subscribed to every channel, out of subscriber_stores(). */
size_t subscriber_up(const struct subscriber *s);
size_t subscriber_stores(const struct subscriber *s);
/* Disconnects; no callback is called after this.  s may be NULL. */
void subscriber_stop(struct subscriber *s);

#endif
