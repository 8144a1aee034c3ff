/*
 * sink.c - a fast loopback HTTP sink for the webhook benchmarks and the
 * wrk ceiling (tests/webhooks/sink.py records and verifies every request, which
 * makes it the bottleneck; this one only counts).
 *
 *   codeq-bench-sink --port-file FILE [--port N] [--max-seconds S]
 *
 * Answers every request 200 {"ok":true} with keep-alive, from one libev-
 * less libmicrohttpd epoll thread.  Counts POST requests and the events in
 * their bodies: result callbacks ("taskId" members) and WORK_AVAILABLE
 * queue entries ("ready" members).  GET /_stats answers
 * {"requests":N,"events":N,"results":N,"ready":N,"first_us":T,"last_us":T}
 * (T: epoch microseconds of the first and last counted POST); GET /_reset
 * answers the same and sets every counter back to 0.  POSTs are also
 * counted per path (the first MAX_PATHS paths; the others only in the
 * totals): GET /_paths answers a summary over the paths, so that a
 * benchmark with one path per subscriber sees how evenly they were served:
 * {"paths":N,"requests_min":N,"requests_max":N,"ready_min":N,
 * "ready_max":N,"ready_sum":N,"uncounted":N}.  Exits on SIGTERM/SIGINT or
 * after --max-seconds (default 600).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#define MAX_BODY (4 * 1024 * 1024)
#define MAX_PATHS 4096		/* a power of 2: open addressing */

static atomic_long n_requests, n_results, n_ready;
static atomic_llong first_us, last_us;
static volatile sig_atomic_t stop;

/* Per-path counts.  libmicrohttpd calls on_request from one thread, but
 * the table is small enough to lock anyway: a reply thread of a future
 * libmicrohttpd mode must not see it half written. */
struct path_count {
	char *path;		/* NULL: free slot */
	long requests, ready;
};
static struct path_count paths[MAX_PATHS];
static long npaths, uncounted;
static pthread_mutex_t paths_mu = PTHREAD_MUTEX_INITIALIZER;

struct body {
	char *p;
	size_t len, cap;
	int too_big;
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long
count(const char *p, size_t len, const char *needle)
{
	size_t nl = strlen(needle);
	const char *end = p + len, *q;
	long n = 0;

	while (p < end && (q = memmem(p, (size_t)(end - p), needle, nl)) != NULL) {
		n++;
		p = q + nl;
	}
	return n;
}

static uint64_t
hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Adds one POST to its path's counts; a path past the table's capacity
 * (kept at most 3/4 full) is only counted as uncounted. */
static void
count_path(const char *url, long ready)
{
	size_t i;

	pthread_mutex_lock(&paths_mu);
	for (i = hash_str(url) & (MAX_PATHS - 1); paths[i].path != NULL;
	    i = (i + 1) & (MAX_PATHS - 1))
		if (strcmp(paths[i].path, url) == 0)
			break;
	if (paths[i].path == NULL) {
		if (npaths >= MAX_PATHS / 4 * 3 ||
		    (paths[i].path = strdup(url)) == NULL) {
			uncounted++;
			pthread_mutex_unlock(&paths_mu);
			return;
		}
		npaths++;
	}
	paths[i].requests++;
	paths[i].ready += ready;
	pthread_mutex_unlock(&paths_mu);
}

static void
paths_reset(void)
{
	size_t i;

	pthread_mutex_lock(&paths_mu);
	for (i = 0; i < MAX_PATHS; i++) {
		free(paths[i].path);
		paths[i] = (struct path_count){ NULL, 0, 0 };
	}
	npaths = uncounted = 0;
	pthread_mutex_unlock(&paths_mu);
}

static enum MHD_Result
reply(struct MHD_Connection *c, unsigned int status, const char *text)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    "application/json");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
stats(struct MHD_Connection *c)
{
	char buf[256];
	long res = atomic_load(&n_results), rdy = atomic_load(&n_ready);

	snprintf(buf, sizeof(buf), "{\"requests\":%ld,\"events\":%ld,"
	    "\"results\":%ld,\"ready\":%ld,\"first_us\":%lld,\"last_us\":%lld}\n",
	    atomic_load(&n_requests), res + rdy, res, rdy,
	    (long long)atomic_load(&first_us), (long long)atomic_load(&last_us));
	return reply(c, MHD_HTTP_OK, buf);
}

static enum MHD_Result
paths_summary(struct MHD_Connection *c)
{
	long rqmin = 0, rqmax = 0, rdmin = 0, rdmax = 0, rdsum = 0;
	char buf[512];
	size_t i;
	int first = 1;

	pthread_mutex_lock(&paths_mu);
	for (i = 0; i < MAX_PATHS; i++) {
		const struct path_count *p = &paths[i];

		if (p->path == NULL)
			continue;
		if (first || p->requests < rqmin)
			rqmin = p->requests;
		if (first || p->requests > rqmax)
			rqmax = p->requests;
		if (first || p->ready < rdmin)
			rdmin = p->ready;
		if (first || p->ready > rdmax)
			rdmax = p->ready;
		rdsum += p->ready;
		first = 0;
	}
	snprintf(buf, sizeof(buf), "{\"paths\":%ld,\"requests_min\":%ld,"
	    "\"requests_max\":%ld,\"ready_min\":%ld,\"ready_max\":%ld,"
	    "\"ready_sum\":%ld,\"uncounted\":%ld}\n", npaths, rqmin, rqmax,
	    rdmin, rdmax, rdsum, uncounted);
	pthread_mutex_unlock(&paths_mu);
	return reply(c, MHD_HTTP_OK, buf);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *data, size_t *size,
    void **ctx)
{
	struct body *b = *ctx;
	long long zero = 0, t;
	long ready = 0;

	(void)cls; (void)version;
	if (strcmp(method, "POST") != 0) {
		if (strcmp(url, "/_reset") == 0) {
			atomic_store(&n_requests, 0);
			atomic_store(&n_results, 0);
			atomic_store(&n_ready, 0);
			atomic_store(&first_us, 0);
			atomic_store(&last_us, 0);
			paths_reset();
		}
		if (strcmp(url, "/_paths") == 0)
			return paths_summary(c);
		return strcmp(url, "/_stats") == 0 || strcmp(url, "/_reset") == 0 ?
		    stats(c) : reply(c, MHD_HTTP_OK, "{\"ok\":true}");
	}
	if (b == NULL) {
		if ((b = calloc(1, sizeof(*b))) == NULL)
			return MHD_NO;
		*ctx = b;
		return MHD_YES;
	}
	if (*size > 0) {
		if (b->len + *size > MAX_BODY)
			b->too_big = 1;
		else {
			if (b->len + *size > b->cap) {
				size_t cap = b->cap ? b->cap : 4096;
				char *p;

				while (cap < b->len + *size)
					cap *= 2;
				if ((p = realloc(b->p, cap)) == NULL)
					return MHD_NO;
				b->p = p;
				b->cap = cap;
			}
			memcpy(b->p + b->len, data, *size);
			b->len += *size;
		}
		*size = 0;
		return MHD_YES;
	}
	if (b->too_big)
		return reply(c, 413, "{\"error\":\"too big\"}");
	t = now_us();
	atomic_compare_exchange_strong(&first_us, &zero, t);
	atomic_store(&last_us, t);
	atomic_fetch_add(&n_requests, 1);
	if (b->len > 0) {
		ready = count(b->p, b->len, "\"ready\"");
		atomic_fetch_add(&n_results, count(b->p, b->len, "\"taskId\""));
		atomic_fetch_add(&n_ready, ready);
	}
	count_path(url, ready);
	return reply(c, MHD_HTTP_OK, "{\"ok\":true}");
}

static void
on_done(void *cls, struct MHD_Connection *c, void **ctx,
    enum MHD_RequestTerminationCode toe)
{
	struct body *b = *ctx;

	(void)cls; (void)c; (void)toe;
	if (b != NULL) {
		free(b->p);
		free(b);
		*ctx = NULL;
	}
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	const char *port_file = NULL;
	const union MHD_DaemonInfo *info;
	struct sockaddr_in sa;
	struct MHD_Daemon *d;
	unsigned int port = 0;
	double max_s = 600;
	time_t end;
	FILE *f;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
			port_file = argv[++i];
		else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
			port = (unsigned int)atoi(argv[++i]);
		else if (strcmp(argv[i], "--max-seconds") == 0 && i + 1 < argc)
			max_s = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: codeq-bench-sink --port-file FILE "
			    "[--port N] [--max-seconds S]\n");
			return 64;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	/* Loopback only: bind 127.0.0.1. */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
	    (uint16_t)port, NULL, NULL, on_request, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1000,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60,
	    MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "codeq-bench-sink: cannot listen\n");
		return 1;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (info == NULL) {
		fprintf(stderr, "codeq-bench-sink: no port\n");
		return 1;
	}
	if (port_file != NULL) {
		if ((f = fopen(port_file, "w")) == NULL) {
			perror(port_file);
			return 1;
		}
		fprintf(f, "%u\n", (unsigned int)info->port);
		fclose(f);
	} else
		printf("%u\n", (unsigned int)info->port);
	end = time(NULL) + (time_t)max_s;
	while (!stop && time(NULL) < end)
		usleep(100000);
	MHD_stop_daemon(d);
	return 0;
}
