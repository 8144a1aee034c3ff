/*
 * api.h - codeq-api, the HTTP front door: codeQ's /v1/codeq routes on
 * libmicrohttpd, driven by one libev loop (docs/http-api.md).
 *
 * One thread.  Store calls are libcodeq's synchronous ones (a round trip
 * to a store on the same network costs far less than the HTTP exchange
 * around it); a long poll never blocks: its connection is suspended
 * (MHD_suspend_connection) and resumed when the store publishes work on
 * the queue, or by a timer (wait.c).
 */
#ifndef CODEQ_API_H
#define CODEQ_API_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <jansson.h>
#include <microhttpd.h>

#include "auth.h"
#include "conf.h"
#include "mhd_ev.h"
#include "jwt.h"

struct api;
struct req;

/* What a route handler did with the request. */
enum api_done {
	API_ANSWERED = 0,	/* a response is queued */
	API_WAIT,		/* long poll: suspend, call again when woken */
	API_FAILED,		/* could not even answer: close the connection */
};

typedef enum api_done (*api_handler)(struct api *a, struct req *r);

/* What the caller must be allowed (auth.h scopes). */
struct route {
	const char *method;
	const char *pattern;	/* ":id" matches one path segment */
	unsigned scope;		/* any of these scopes (AUTH_S_*) */
	api_handler fn;
	int has_body;		/* a JSON body is read (may be empty) */
};

/* A request, from its headers to its response (MHD's req_cls). */
struct req {
	struct MHD_Connection *conn;
	const struct route *route;
	struct api_token *tok;	/* the tokens file's, or &jwt */
	struct api_token jwt;	/* a verified JWT's, owned by the request */
	char id[192];		/* the ":id" segment, %-decoded */
	char *body;
	size_t len;
	int too_big;
	json_t *json;		/* parsed body (NULL: none or empty) */
	/* Long polls (wait.c). */
	int waiting;		/* suspended or woken: the handler retries */
	int woken;
	int64_t deadline_ms;	/* monotonic */
	int64_t since_ms;	/* suspended at */
	char **queues;		/* claim: the queues it waits on */
	size_t nqueues;
	int64_t lease_ms;	/* claim */
	size_t count;		/* claim: tasks wanted */
	struct req *prev, *next;
	/* Response headers beside the body. */
	char lease_hdr[64];	/* X-CodeQ-Lease-Token */
	int64_t retry_after;	/* seconds; 0: none */
};

struct api_wait;

struct api {
	struct ev_loop *loop;
	const struct codeq_config *cfg;
	struct api_tokens tokens;
	struct jwt_keys jwks;	/* n 0: no jwks_file */
	struct jwt_policy jwt;
	struct jwt_subjects *subjects;	/* JWT subjects' rate limits */
	struct codeq *c;	/* the store; NULL until connected */
	int64_t store_retry_ms;	/* no connect attempt before (monotonic) */
	struct MHD_Daemon *d;
	struct mhd_ev ev;	/* d on the loop */
	size_t max_body;
	unsigned short port;	/* bound */
	int stopping;
	struct api_wait *wait;
	uint64_t requests, rejected;
};

/* server.c */
int api_start(struct api *a, char *err, size_t errlen);
void api_stop(struct api *a);
void api_kick(struct api *a);	/* run MHD from the loop soon */
enum api_done api_json(struct req *r, unsigned status, json_t *body);
enum api_done api_error(struct req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
enum api_done api_empty(struct req *r, unsigned status);
/* A libcodeq status as an HTTP answer: 400, 404, 409, 413, 503... */
enum api_done api_codeq_error(struct req *r, int code, const char *msg);
/* The store connection, connecting when needed; NULL (and a 503 sent)
 * when it cannot be had now. */
struct codeq *api_store(struct api *a);
void api_store_lost(struct api *a, int code);
enum api_done api_unavailable(struct req *r);	/* 503 */

/* routes.c */
const struct route *route_find(const char *method, const char *url,
    char *id, size_t idlen, int *method_known);

/* tasks.c, worker.c, subs.c: the handlers the route table names. */
enum api_done h_create(struct api *, struct req *);
enum api_done h_create_batch(struct api *, struct req *);
enum api_done h_get(struct api *, struct req *);
enum api_done h_get_result(struct api *, struct req *);
enum api_done h_claim(struct api *, struct req *);
enum api_done h_claim_batch(struct api *, struct req *);
enum api_done h_heartbeat(struct api *, struct req *);
enum api_done h_abandon(struct api *, struct req *);
enum api_done h_nack(struct api *, struct req *);
enum api_done h_result(struct api *, struct req *);
enum api_done h_result_batch(struct api *, struct req *);
enum api_done h_subscribe(struct api *, struct req *);
enum api_done h_sub_heartbeat(struct api *, struct req *);
enum api_done h_queues(struct api *, struct req *);
enum api_done h_queue_stats(struct api *, struct req *);

/* Queue part of a task id ("<queue>:<seq>") into q; 0, or -1. */
int api_id_queue(const char *id, char *q, size_t qlen);
/* 403 unless the token may use queue. */
int api_queue_ok(struct req *r, const char *queue);

/* wait.c */
int wait_start(struct api *a, char *err, size_t errlen);
void wait_stop(struct api *a);
/* Suspends r until woken (work on one of r->queues when it has some,
 * a timer otherwise) or its deadline. */
void wait_add(struct api *a, struct req *r);
void wait_remove(struct api *a, struct req *r);
/* Resumes every waiter (shutdown). */
void wait_all(struct api *a);
int64_t api_now_ms(void);	/* monotonic */

#endif
