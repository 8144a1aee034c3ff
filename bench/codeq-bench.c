/*
 * codeq-bench.c - one load scenario against a real store and a real codeqd.
 *
 *   codeq-bench --redis URL --codeqd PATH --handler NOOP.so --dir DIR
 *       --scenario NAME [-n TASKS] [--workers W] [--prefetch P]
 *       [--rate R] [--duration S] [--depths 1000,100000,...]
 *       [--spread S] [--exec CMD] [--sink URL] [--queues Q] [--log-level L]
 *       [--subscribers S] [--one-queue-each]
 *       [--json FILE] [--timeout S]
 *   codeq-bench --print-script NAME
 *
 * Scenarios (docs/performance.md):
 *   cycle      N tasks enqueued in pipelined batches while a no-op .so pool
 *              drains them: the full enqueue -> claim -> handler -> complete
 *              rate
 *   sustained  a fixed enqueue rate for a duration (single enqueues)
 *   burst      10 bursts of N/10 tasks, 1 s apart, on an idle pool
 *   many       like cycle with many worker processes
 *   prefill    claim latency at each depth, then codeqd drains the queue
 *   drain      N tasks queued with codeqd stopped, then drained: the rate
 *              from codeqd's start to the last completion (BullMQ's drain)
 *   bulk       N tasks enqueued in pipelined batches, nothing draining
 *   priorities random priorities under load; claim-order inversions
 *   delayed    N tasks due at times spread over S seconds; lateness
 *   exec       like cycle with an exec pool (--exec, default /bin/true)
 *   callbacks  N tasks with a result webhook to --sink: the outbox is
 *              filled first, then the callbacks process drains it
 *   workavail  --subscribers WORK_AVAILABLE subscriptions to --sink, N
 *              tasks enqueued round-robin over --queues queues by
 *              --producers threads
 *
 * codeq-bench starts codeqd itself with a generated configuration in DIR,
 * samples the queue depth and the RSS and CPU time of codeqd and of each
 * child from /proc every SAMPLE_MS, stops codeqd with SIGTERM, reads the
 * no-op handler's records (bench/record.h) and writes one JSON object.
 * Every loop is bounded by --timeout (default 300 s): a slow machine gives
 * slow figures, never a hang.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "codeq.h"
#include "record.h"
#include "scripts.h"
#include "store.h"

#define SAMPLE_MS	100
#define MAX_SAMPLES	20000
#define MAX_PROCS	300
#define BATCH		100
#define PROBES		3000	/* claims timed at each depth (prefill) */
#define SETTLE_US	2000000	/* pause after a fill (prefill) */

/* ---- small helpers ------------------------------------------------------ */

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
sleep_us(int64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

	if (us > 0)
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "codeq-bench: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* A growable array of int64 samples (latencies in microseconds). */
struct series {
	int64_t *v;
	size_t n, cap;
	pthread_mutex_t mu;
};

static void
series_add(struct series *s, int64_t x)
{
	pthread_mutex_lock(&s->mu);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		int64_t *v = realloc(s->v, cap * sizeof(*v));

		if (v == NULL) {
			pthread_mutex_unlock(&s->mu);
			return;		/* a smaller sample, not a crash */
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	pthread_mutex_unlock(&s->mu);
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* {"count", "p50", "p95", "p99", "max", "mean"} in milliseconds. */
static json_t *
series_json(struct series *s)
{
	double sum = 0;
	size_t i;

	if (s->n == 0)
		return json_pack("{s:i}", "count", 0);
	qsort(s->v, s->n, sizeof(s->v[0]), cmp64);
	for (i = 0; i < s->n; i++)
		sum += (double)s->v[i];
#define PCT(p) ((double)s->v[(size_t)((p) * (double)(s->n - 1))] / 1000.0)
	return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f}",
	    "count", (json_int_t)s->n, "p50", PCT(0.50), "p95", PCT(0.95),
	    "p99", PCT(0.99), "max", (double)s->v[s->n - 1] / 1000.0,
	    "mean", sum / (double)s->n / 1000.0);
#undef PCT
}

/* ---- options ----------------------------------------------------------- */

static struct {
	const char *redis, *codeqd, *handler, *dir, *scenario, *json;
	const char *exec, *sink, *log_level, *depths;
	long n, queues;
	int workers, prefetch, producers, subscribers, one_queue_each;
	double rate, duration, spread, timeout;
} O = {
	.n = 20000, .queues = 1000, .workers = 2, .prefetch = 16, .producers = 1,
	.subscribers = 16,
	.rate = 2000, .duration = 10, .spread = 10, .timeout = 300,
	.exec = "/bin/true", .log_level = "info", .depths = "1000,100000",
};

static char queue[128];
static int64_t deadline_mono;	/* every wait stops here */
static atomic_long errors, enqueued;

static int
timed_out(void)
{
	return mono_us() > deadline_mono;
}

static codeq_t *
connect_store(void)
{
	codeq_options opt;
	codeq_error err;
	codeq_t *c;

	memset(&opt, 0, sizeof(opt));
	opt.retention_ms = 600000;
	opt.command_timeout_ms = 30000;
	if (codeq_connect(O.redis, &opt, &c, &err) != CODEQ_OK)
		die("connect %s: %s", O.redis, err.msg);
	return c;
}

/* ---- codeqd ------------------------------------------------------------ */

static pid_t codeqd_pid;
static int64_t codeqd_started_us;	/* wall clock, at fork */

#define WEBHOOK_CALLBACKS	1
#define WEBHOOK_NOTIFIER	2

static void
write_config(const char *path, int webhooks, const char *pool_extra)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	fprintf(f, "[store]\nurl = %s\nretention = 10m\ncommand_timeout = 30s\n\n"
	    "[codeqd]\nlog_level = %s\nshutdown_timeout = 20s\n\n"
	    "[webhooks]\nallow_loopback = yes\nallow_private = yes\n"
	    "max_per_host = 16\n\n"
	    "[notifier]\nenabled = %s\n\n"
	    "[callbacks]\nenabled = %s\n\n[metrics]\nlisten = off\n\n"
	    "[pool bench]\nqueues = %s\nprocesses = %d\nprefetch = %d\n"
	    "lease = 60s\ntimeout = 50s\n%s\n",
	    O.redis, O.log_level, webhooks & WEBHOOK_NOTIFIER ? "yes" : "no",
	    webhooks & WEBHOOK_CALLBACKS ? "yes" : "no", queue, O.workers,
	    O.prefetch, pool_extra);
	fclose(f);
}

static int count_children(pid_t parent, pid_t *pids, int max);
static void read_base(void);

static void
start_codeqd(const char *conf, int want_children)
{
	char log[4096];
	int fd, i;

	read_base();	/* before any worker can complete anything */
	codeqd_started_us = now_us();

	snprintf(log, sizeof(log), "%s/codeqd.log", O.dir);
	if ((codeqd_pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (codeqd_pid == 0) {
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(O.codeqd, "codeqd", "-c", conf, "--foreground", (char *)NULL);
		_exit(127);
	}
	/* Ready when every child is forked and has had a moment to connect. */
	for (i = 0; i < 300; i++) {
		if (count_children(codeqd_pid, NULL, 0) >= want_children)
			break;
		if (waitpid(codeqd_pid, NULL, WNOHANG) == codeqd_pid)
			die("codeqd exited at start; see %s", log);
		sleep_us(50000);
	}
	sleep_us(300000);
}

/* codeqd ended before it was told to: say how, stop waiting for it. */
static int
codeqd_gone(void)
{
	int st;

	if (codeqd_pid <= 0 || waitpid(codeqd_pid, &st, WNOHANG) != codeqd_pid)
		return 0;
	if (WIFSIGNALED(st))
		fprintf(stderr, "codeq-bench: codeqd killed by signal %d\n",
		    WTERMSIG(st));
	else
		fprintf(stderr, "codeq-bench: codeqd exited with status %d\n",
		    WEXITSTATUS(st));
	codeqd_pid = 0;
	atomic_fetch_add(&errors, 1);
	return 1;
}

static void
stop_codeqd(void)
{
	int i, st;

	if (codeqd_pid <= 0)
		return;
	kill(codeqd_pid, SIGTERM);
	for (i = 0; i < 300; i++) {
		if (waitpid(codeqd_pid, &st, WNOHANG) == codeqd_pid) {
			codeqd_pid = 0;
			return;
		}
		sleep_us(100000);
	}
	kill(codeqd_pid, SIGKILL);
	waitpid(codeqd_pid, &st, 0);
	codeqd_pid = 0;
}

/* ---- /proc sampling ---------------------------------------------------- */

struct proc_stat {
	pid_t pid;
	int is_codeqd;
	char comm[32];		/* codeq-worker, codeq-webhooks, codeqd */
	double cpu_s;		/* utime + stime */
	long hwm_kib, rss_kib, rss_first_kib;
	long rss_early_kib;	/* 1 s after first seen: start-up done */
	int seen;
};

static struct proc_stat procs[MAX_PROCS];
static int nprocs;
static pthread_mutex_t procs_mu = PTHREAD_MUTEX_INITIALIZER;

static int
read_stat(pid_t pid, pid_t *ppid, double *cpu)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	int fd, pp;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime */
	if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &pp, &ut, &st) != 3)
		return -1;
	if (ppid)
		*ppid = pp;
	if (cpu)
		*cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

static void
read_mem(pid_t pid, long *hwm, long *rss)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmHWM:", 6) == 0)
			*hwm = atol(line + 6);
		else if (strncmp(line, "VmRSS:", 6) == 0)
			*rss = atol(line + 6);
	}
	fclose(f);
}

static void
read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	snprintf(buf, len, "?");
	if ((fd = open(path, O_RDONLY)) < 0)
		return;
	if ((n = read(fd, buf, len - 1)) > 0) {
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
	}
	close(fd);
}

static int
count_children(pid_t parent, pid_t *pids, int max)
{
	struct dirent *e;
	DIR *d;
	pid_t pid, pp;
	int n = 0;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		pid = (pid_t)atoi(e->d_name);
		if (read_stat(pid, &pp, NULL) == 0 && pp == parent) {
			if (pids != NULL && n < max)
				pids[n] = pid;
			n++;
		}
	}
	closedir(d);
	return n;
}

static struct proc_stat *
proc_slot(pid_t pid)
{
	int i;

	for (i = 0; i < nprocs; i++)
		if (procs[i].pid == pid)
			return &procs[i];
	if (nprocs == MAX_PROCS)
		return NULL;
	memset(&procs[nprocs], 0, sizeof(procs[0]));
	procs[nprocs].pid = pid;
	return &procs[nprocs++];
}

static void
sample_proc(pid_t pid, int is_codeqd)
{
	struct proc_stat *s;
	double cpu;
	long hwm = 0, rss = 0;

	if (read_stat(pid, NULL, &cpu) < 0)
		return;
	read_mem(pid, &hwm, &rss);
	if ((s = proc_slot(pid)) == NULL)
		return;
	s->is_codeqd = is_codeqd;
	if (s->comm[0] == '\0')
		read_comm(pid, s->comm, sizeof(s->comm));
	s->cpu_s = cpu;
	if (hwm > s->hwm_kib)
		s->hwm_kib = hwm;
	s->rss_kib = rss;
	if (s->rss_first_kib == 0)
		s->rss_first_kib = rss;
	if (++s->seen == 1000 / SAMPLE_MS)
		s->rss_early_kib = rss;
}

static void
sample_procs(void)
{
	pid_t kids[MAX_PROCS];
	int n, i;

	if (codeqd_pid <= 0)
		return;
	pthread_mutex_lock(&procs_mu);
	sample_proc(codeqd_pid, 1);
	n = count_children(codeqd_pid, kids, MAX_PROCS);
	for (i = 0; i < n && i < MAX_PROCS; i++)
		sample_proc(kids[i], 0);
	pthread_mutex_unlock(&procs_mu);
}

/* ---- the sampler thread: depth over time + /proc ------------------------ */

struct sample {
	double t;		/* seconds since the scenario started */
	int64_t ready, delayed, leased, completed, outbox;
};

static struct sample samples[MAX_SAMPLES];
static atomic_int nsamples;
static atomic_int sampler_stop;
static atomic_llong completed_now, outbox_now;
static int64_t t0_us;		/* scenario start, monotonic */
static int64_t completed_base;

static void *
sampler(void *arg)
{
	codeq_t *c = connect_store();
	codeq_stats st;
	codeq_error err;
	int64_t next = mono_us();

	(void)arg;
	while (!atomic_load(&sampler_stop)) {
		if (codeq_stats_get(c, queue, &st, &err) == CODEQ_OK) {
			int i = atomic_load(&nsamples);

			atomic_store(&completed_now, st.completed - completed_base);
			atomic_store(&outbox_now, st.outbox);
			if (i < MAX_SAMPLES) {
				samples[i] = (struct sample){
				    (double)(mono_us() - t0_us) / 1e6,
				    st.ready_total, st.delayed, st.leased,
				    st.completed - completed_base, st.outbox };
				atomic_store(&nsamples, i + 1);
			}
		}
		sample_procs();
		next += SAMPLE_MS * 1000;
		sleep_us(next - mono_us());
	}
	codeq_close(c);
	return NULL;
}

static pthread_t sampler_thread;

static void
read_base(void)
{
	codeq_t *c = connect_store();
	codeq_stats st;
	codeq_error err;

	memset(&st, 0, sizeof(st));
	if (codeq_stats_get(c, queue, &st, &err) == CODEQ_OK)
		completed_base = st.completed;
	codeq_close(c);
}

static void
sampler_start(void)
{
	atomic_store(&completed_now, 0);
	atomic_store(&sampler_stop, 0);
	t0_us = mono_us();
	if (pthread_create(&sampler_thread, NULL, sampler, NULL) != 0)
		die("pthread_create failed");
}

static void
sampler_finish(void)
{
	atomic_store(&sampler_stop, 1);
	pthread_join(sampler_thread, NULL);
}

/* Waits until `completed` reaches n; returns the seconds since t0. */
static int codeqd_gone(void);

static double
wait_completed(long n)
{
	while (atomic_load(&completed_now) < n && !timed_out() && !codeqd_gone())
		sleep_us(5000);
	return (double)(mono_us() - t0_us) / 1e6;
}

/* ---- producers --------------------------------------------------------- */

static struct series lat_enqueue = { .mu = PTHREAD_MUTEX_INITIALIZER };
static struct series lat_enqueue_batch = { .mu = PTHREAD_MUTEX_INITIALIZER };
static struct series lat_claim = { .mu = PTHREAD_MUTEX_INITIALIZER };
static struct series lat_e2e = { .mu = PTHREAD_MUTEX_INITIALIZER };
static struct series lat_late = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
make_payload(char *buf, size_t len, int prio, int64_t due_ms)
{
	snprintf(buf, len, "{\"t\":%" PRId64 ",\"p\":%d,\"d\":%" PRId64 "}",
	    now_us(), prio, due_ms);
}

/* Enqueues n tasks in pipelined batches; prio < 0: random 0-9;
 * spread_ms > 0: due at a random time in [due0, due0 + spread). */
static void
enqueue_batches(codeq_t *c, long n, int prio, int64_t due0_ms,
    int64_t spread_ms, const char *webhook)
{
	static char payloads[BATCH][96];
	codeq_task_spec specs[BATCH];
	codeq_enqueue_result res[BATCH];
	codeq_error err;
	unsigned int seed = 42;
	long done = 0;
	size_t k, i;
	int64_t t;

	while (done < n && !timed_out()) {
		k = (size_t)(n - done < BATCH ? n - done : BATCH);
		memset(specs, 0, sizeof(specs));
		for (i = 0; i < k; i++) {
			int p = prio >= 0 ? prio : (int)(rand_r(&seed) % 10);
			int64_t due = spread_ms > 0 ? due0_ms +
			    (int64_t)(rand_r(&seed) % (unsigned)spread_ms) : 0;

			make_payload(payloads[i], sizeof(payloads[i]), p, due);
			specs[i].queue = queue;
			specs[i].payload = payloads[i];
			specs[i].priority = p;
			specs[i].at_ms = due;
			specs[i].webhook = webhook;
		}
		t = mono_us();
		if (codeq_enqueue_batch(c, specs, k, res, &err) != CODEQ_OK) {
			atomic_fetch_add(&errors, (long)k);
			fprintf(stderr, "codeq-bench: enqueue: %s\n", err.msg);
			sleep_us(100000);
		} else {
			series_add(&lat_enqueue_batch, mono_us() - t);
			for (i = 0; i < k; i++)
				if (res[i].status != CODEQ_OK)
					atomic_fetch_add(&errors, 1);
		}
		done += (long)k;
		atomic_fetch_add(&enqueued, (long)k);
	}
}

/* One paced producer: rate tasks/s for seconds, single enqueues. */
struct pacer {
	double rate, seconds;
	long max;
};

static void *
paced_producer(void *arg)
{
	struct pacer *p = arg;
	codeq_t *c = connect_store();
	codeq_task_spec spec;
	codeq_error err;
	char payload[96], id[CODEQ_ID_MAX];
	int64_t start = mono_us(), t;
	long i;
	int dup;

	memset(&spec, 0, sizeof(spec));
	spec.queue = queue;
	spec.payload = payload;
	for (i = 0; i < p->max && !timed_out(); i++) {
		int64_t due = start + (int64_t)((double)i * 1e6 / p->rate);

		if (due > start + (int64_t)(p->seconds * 1e6))
			break;
		sleep_us(due - mono_us());
		make_payload(payload, sizeof(payload), 0, 0);
		t = mono_us();
		if (codeq_enqueue(c, &spec, id, &dup, &err) != CODEQ_OK)
			atomic_fetch_add(&errors, 1);
		else {
			series_add(&lat_enqueue, mono_us() - t);
			atomic_fetch_add(&enqueued, 1);
		}
	}
	codeq_close(c);
	return NULL;
}

static void
run_paced(double rate, double seconds, long max)
{
	pthread_t th[16];
	struct pacer p[16];
	int i, np = O.producers < 1 ? 1 : O.producers > 16 ? 16 : O.producers;

	for (i = 0; i < np; i++) {
		p[i] = (struct pacer){ rate / np, seconds, max / np };
		pthread_create(&th[i], NULL, paced_producer, &p[i]);
	}
	for (i = 0; i < np; i++)
		pthread_join(th[i], NULL);
}

/* ---- the claim probe: a client claiming one task at a time -------------- */

static atomic_int probe_stop;

static int
probe_once(codeq_t *c)
{
	const char *qs[1] = { queue };
	codeq_claim_opts co = { .lease_ms = 60000, .worker = "bench-probe",
	    .max_tasks = 1 };
	codeq_task *t[1];
	codeq_error err;
	size_t n = 0;
	int64_t s = mono_us();
	int rc;

	rc = codeq_claim(c, qs, 1, &co, t, &n, &err);
	if (rc == CODEQ_EEMPTY)
		return 0;
	if (rc != CODEQ_OK) {
		atomic_fetch_add(&errors, 1);
		return -1;
	}
	series_add(&lat_claim, mono_us() - s);
	if (codeq_complete(c, t[0]->id, t[0]->lease_token, NULL, &err) != CODEQ_OK)
		atomic_fetch_add(&errors, 1);
	codeq_task_free(t[0]);
	return 1;
}

static void *
probe(void *arg)
{
	codeq_t *c = connect_store();

	(void)arg;
	while (!atomic_load(&probe_stop) && !timed_out()) {
		probe_once(c);
		sleep_us(10000);
	}
	codeq_close(c);
	return NULL;
}

/* ---- handler records ----------------------------------------------------- */

struct rec_set {
	struct bench_record *r;
	size_t n;
};

static struct rec_set
read_records(const char *dir)
{
	struct rec_set rs = { NULL, 0 };
	struct dirent *e;
	struct stat sb;
	char path[4096];
	size_t cap = 0, k;
	DIR *d;
	int fd;

	if ((d = opendir(dir)) == NULL)
		return rs;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "rec.", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((fd = open(path, O_RDONLY)) < 0 || fstat(fd, &sb) < 0) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		k = (size_t)sb.st_size / sizeof(struct bench_record);
		if (rs.n + k > cap) {
			cap = (rs.n + k) * 2;
			rs.r = realloc(rs.r, cap * sizeof(*rs.r));
			if (rs.r == NULL)
				die("out of memory");
		}
		if (read(fd, rs.r + rs.n, k * sizeof(*rs.r)) ==
		    (ssize_t)(k * sizeof(*rs.r)))
			rs.n += k;
		close(fd);
	}
	closedir(d);
	return rs;
}

/* e2e = handler start - enqueue call; lateness = start - due. */
static void
digest_records(const char *dir)
{
	struct rec_set rs = read_records(dir);
	size_t i;

	for (i = 0; i < rs.n; i++) {
		if (rs.r[i].enqueue_us > 0)
			series_add(&lat_e2e, rs.r[i].start_us - rs.r[i].enqueue_us);
		if (rs.r[i].due_ms > 0)
			series_add(&lat_late, rs.r[i].start_us - rs.r[i].due_ms * 1000);
	}
	free(rs.r);
}

/* ---- scenarios --------------------------------------------------------- */

static json_t *extra;		/* scenario-specific results */
static double elapsed_s;	/* the measured interval */
static long tasks_done;

static void
pool_so(char *buf, size_t len, const char *recdir)
{
	snprintf(buf, len, "so = %s\nhandler_config = %s\n", O.handler, recdir);
}

static void
scn_drain(int exec_pool, int probe_on)
{
	char conf[4096], recdir[4096], pool[8192];
	pthread_t pt;
	codeq_t *c = connect_store();

	snprintf(recdir, sizeof(recdir), "%s/rec-%s", O.dir, O.scenario);
	mkdir(recdir, 0755);
	if (exec_pool)
		snprintf(pool, sizeof(pool), "exec = %s\n", O.exec);
	else
		pool_so(pool, sizeof(pool), recdir);
	snprintf(conf, sizeof(conf), "%s/%s.conf", O.dir, O.scenario);
	write_config(conf, 0, pool);
	start_codeqd(conf, O.workers);
	sampler_start();
	if (probe_on)
		pthread_create(&pt, NULL, probe, NULL);
	enqueue_batches(c, O.n, 0, 0, 0, NULL);
	elapsed_s = wait_completed(O.n);
	tasks_done = atomic_load(&completed_now);
	if (probe_on) {
		atomic_store(&probe_stop, 1);
		pthread_join(pt, NULL);
	}
	sampler_finish();
	stop_codeqd();
	digest_records(recdir);
	codeq_close(c);
}

static void
scn_sustained(int burst)
{
	char conf[4096], recdir[4096], pool[8192];
	pthread_t pt;
	int b;

	snprintf(recdir, sizeof(recdir), "%s/rec-%s", O.dir, O.scenario);
	mkdir(recdir, 0755);
	pool_so(pool, sizeof(pool), recdir);
	snprintf(conf, sizeof(conf), "%s/%s.conf", O.dir, O.scenario);
	write_config(conf, 0, pool);
	start_codeqd(conf, O.workers);
	sampler_start();
	pthread_create(&pt, NULL, probe, NULL);
	if (!burst)
		run_paced(O.rate, O.duration, (long)(O.rate * O.duration) + 1);
	else {
		/* 10 bursts, 1 s apart, each as fast as single enqueues go. */
		for (b = 0; b < 10 && !timed_out(); b++) {
			int64_t next = mono_us() + 1000000;

			run_paced(1e9, 1.0, O.n / 10);
			sleep_us(next - mono_us());
		}
	}
	elapsed_s = wait_completed(atomic_load(&enqueued));
	tasks_done = atomic_load(&completed_now);
	atomic_store(&probe_stop, 1);
	pthread_join(pt, NULL);
	sampler_finish();
	stop_codeqd();
	digest_records(recdir);
}

static void
scn_prefill(void)
{
	char conf[4096], recdir[4096], pool[8192], key[32];
	codeq_t *c = connect_store();
	json_t *depths = json_object();
	const char *p = O.depths;
	long depth, have = 0, i, filled = 0;
	double fill_s = 0;

	snprintf(recdir, sizeof(recdir), "%s/rec-%s", O.dir, O.scenario);
	mkdir(recdir, 0755);
	/* Claim latency at each depth: fill to depth + PROBES, let the store
	 * settle (the fill leaves it rehashing and purging freed pages for a
	 * moment, which is not what depth costs), then PROBES claims, each
	 * followed by its complete, one at a time. */
	while (*p && !timed_out()) {
		struct series s = { .mu = PTHREAD_MUTEX_INITIALIZER };
		int64_t fill0 = mono_us();

		depth = strtol(p, (char **)&p, 10);
		if (*p == ',')
			p++;
		if (depth + PROBES > have) {
			enqueue_batches(c, depth + PROBES - have, 0, 0, 0, NULL);
			filled += depth + PROBES - have;
			fill_s += (double)(mono_us() - fill0) / 1e6;
			have = depth + PROBES;
		}
		fprintf(stderr, "codeq-bench: prefill: %ld queued (%.1f s); "
		    "probing claims\n", have, (double)(mono_us() - fill0) / 1e6);
		/* redis-server rehashes its keyspace 1 ms in every 100 ms
		 * after a fill doubled it: a million tasks take seconds. */
		sleep_us(SETTLE_US + SETTLE_US * 3 / 2 * (have / 1000000));
		lat_claim.n = 0;
		for (i = 0; i < PROBES && !timed_out(); i++)
			probe_once(c);
		have -= (long)lat_claim.n;
		for (i = 0; i < (long)lat_claim.n; i++)
			series_add(&s, lat_claim.v[i]);
		snprintf(key, sizeof(key), "%ld", depth);
		json_object_set_new(depths, key, series_json(&s));
		free(s.v);
	}
	lat_claim.n = 0;
	json_object_set_new(extra, "claim_at_depth", depths);
	json_object_set_new(extra, "drained", json_integer(have));
	/* Pipelined enqueue_batch of 100 from one client, nothing draining. */
	json_object_set_new(extra, "fill_per_second",
	    json_real(fill_s > 0 ? (double)filled / fill_s : 0));
	/* Then codeqd drains what is queued. */
	pool_so(pool, sizeof(pool), recdir);
	snprintf(conf, sizeof(conf), "%s/%s.conf", O.dir, O.scenario);
	write_config(conf, 0, pool);
	read_base();
	sampler_start();	/* the drain is timed from codeqd's start */
	start_codeqd(conf, O.workers);
	elapsed_s = wait_completed(have);
	tasks_done = atomic_load(&completed_now);
	sampler_finish();
	stop_codeqd();
	codeq_close(c);
}

/*
 * drain: N tasks queued with no codeqd running, then codeqd started and
 * timed from its start to the last completion -- what BullMQ's drain in
 * bench/bullmq/bench.mjs does.  The fill's rate is reported beside it.
 */
static void
scn_predrain(void)
{
	char conf[4096], recdir[4096], pool[8192];
	codeq_t *c = connect_store();
	int64_t t0 = mono_us();
	double fill_s;

	snprintf(recdir, sizeof(recdir), "%s/rec-%s", O.dir, O.scenario);
	mkdir(recdir, 0755);
	enqueue_batches(c, O.n, 0, 0, 0, NULL);
	fill_s = (double)(mono_us() - t0) / 1e6;
	json_object_set_new(extra, "fill_per_second",
	    json_real(fill_s > 0 ? (double)O.n / fill_s : 0));
	pool_so(pool, sizeof(pool), recdir);
	snprintf(conf, sizeof(conf), "%s/%s.conf", O.dir, O.scenario);
	write_config(conf, 0, pool);
	read_base();
	sampler_start();
	start_codeqd(conf, O.workers);
	elapsed_s = wait_completed(O.n);
	tasks_done = atomic_load(&completed_now);
	sampler_finish();
	stop_codeqd();
	codeq_close(c);
}

/* bulk: N tasks enqueued in pipelined batches of 100, nothing draining. */
static void
scn_bulk(void)
{
	codeq_t *c = connect_store();
	int64_t t0 = mono_us();

	enqueue_batches(c, O.n, 0, 0, 0, NULL);
	elapsed_s = (double)(mono_us() - t0) / 1e6;
	tasks_done = atomic_load(&enqueued) - atomic_load(&errors);
	codeq_close(c);
}

/* Inversions in claim order: B enqueued before A (lower seq), with a
 * higher priority, yet claimed after A (higher lease token).  With one
 * atomic claim script this must be 0. */
struct prio_task {
	long seq, token;
	int prio;
};

static void
scn_priorities(void)
{
	char conf[4096], recdir[4096], pool[8192], id[256];
	codeq_t *c = connect_store();
	struct prio_task *t;
	codeq_task *got;
	codeq_error err;
	long n = O.n, i, j, inv = 0, missing = 0, start_inv = 0;
	struct rec_set rs;

	snprintf(recdir, sizeof(recdir), "%s/rec-%s", O.dir, O.scenario);
	mkdir(recdir, 0755);
	pool_so(pool, sizeof(pool), recdir);
	snprintf(conf, sizeof(conf), "%s/%s.conf", O.dir, O.scenario);
	write_config(conf, 0, pool);
	start_codeqd(conf, O.workers);
	sampler_start();
	enqueue_batches(c, n, -1, 0, 0, NULL);
	elapsed_s = wait_completed(n);
	tasks_done = atomic_load(&completed_now);
	sampler_finish();
	stop_codeqd();
	digest_records(recdir);
	/* Sequence numbers of this queue run 1..n. */
	if ((t = calloc((size_t)n, sizeof(*t))) == NULL)
		die("out of memory");
	for (i = 0; i < n && !timed_out(); i++) {
		snprintf(id, sizeof(id), "%s:%ld", queue, i + 1);
		if (codeq_get(c, id, &got, &err) != CODEQ_OK ||
		    got->lease_token == NULL) {
			missing++;
			t[i].seq = -1;
			if (err.code == CODEQ_OK)
				codeq_task_free(got);
			continue;
		}
		t[i] = (struct prio_task){ i + 1, atol(got->lease_token),
		    got->priority };
		codeq_task_free(got);
	}
	/* O(n * 10 * log n) with one Fenwick tree of tokens per priority. */
	{
		long maxtok = 0, k;
		long *bit[10];

		for (i = 0; i < n; i++)
			if (t[i].token > maxtok)
				maxtok = t[i].token;
		for (j = 0; j < 10; j++)
			if ((bit[j] = calloc((size_t)maxtok + 2, sizeof(long))) == NULL)
				die("out of memory");
		for (i = 0; i < n; i++) {
			long le, total;

			if (t[i].seq < 0)
				continue;
			for (j = t[i].prio + 1; j < 10; j++) {
				/* earlier tasks of priority j with token > mine */
				le = 0;
				for (k = t[i].token; k > 0; k -= k & -k)
					le += bit[j][k];
				total = 0;
				for (k = maxtok; k > 0; k -= k & -k)
					total += bit[j][k];
				inv += total - le;
			}
			for (k = t[i].token; k <= maxtok; k += k & -k)
				bit[t[i].prio][k]++;
		}
		for (j = 0; j < 10; j++)
			free(bit[j]);
	}
	/* Handler-start order, informational: a higher-priority task that
	 * started more than 100 ms after a lower one enqueued after it
	 * (prefetched batches and parallel workers reorder within that). */
	rs = read_records(recdir);
	{
		/* sample for O(n^2) bound: at most 5000 records */
		size_t m = rs.n < 5000 ? rs.n : 5000, a, b;

		for (a = 0; a < m; a++)
			for (b = 0; b < m; b++)
				if (rs.r[b].seq < rs.r[a].seq &&
				    rs.r[b].priority > rs.r[a].priority &&
				    rs.r[b].start_us > rs.r[a].start_us + 100000)
					start_inv++;
		json_object_set_new(extra, "start_order_inversions_sampled",
		    json_integer((json_int_t)m));
	}
	free(rs.r);
	json_object_set_new(extra, "claim_order_inversions", json_integer(inv));
	json_object_set_new(extra, "start_order_inversions_over_100ms",
	    json_integer(start_inv));
	json_object_set_new(extra, "tasks_not_read", json_integer(missing));
	free(t);
	codeq_close(c);
}

static void
scn_delayed(void)
{
	char conf[4096], recdir[4096], pool[8192];
	codeq_t *c = connect_store();
	int64_t due0;

	snprintf(recdir, sizeof(recdir), "%s/rec-%s", O.dir, O.scenario);
	mkdir(recdir, 0755);
	pool_so(pool, sizeof(pool), recdir);
	snprintf(conf, sizeof(conf), "%s/%s.conf", O.dir, O.scenario);
	write_config(conf, 0, pool);
	start_codeqd(conf, O.workers);
	sampler_start();
	/* Due from 2 s after the start, spread over --spread seconds. */
	due0 = now_us() / 1000 + 2000;
	enqueue_batches(c, O.n, 0, due0, (int64_t)(O.spread * 1000), NULL);
	elapsed_s = wait_completed(O.n);
	tasks_done = atomic_load(&completed_now);
	sampler_finish();
	stop_codeqd();
	digest_records(recdir);
	codeq_close(c);
}

/* GET /_stats of the sink: {"requests", "events", "first_us", "last_us"}. */
static json_t *
sink_stats(const char *what)
{
	struct sockaddr_in sa;
	char req[512], buf[4096];
	const char *hp = strstr(O.sink, "://"), *body;
	size_t n = 0;
	ssize_t k;
	int fd, port;

	/* The sink is polled every 20 ms while a scenario runs: a plain
	 * HTTP/1.0 GET over loopback, not a curl process per poll (which
	 * took a third of the machine's CPU from what it measures). */
	hp = hp ? hp + 3 : O.sink;
	if (strchr(hp, ':') == NULL || (port = atoi(strchr(hp, ':') + 1)) <= 0)
		return NULL;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return NULL;
	snprintf(req, sizeof(req), "GET /%s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
	    what);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return NULL;
	}
	while (n < sizeof(buf) - 1 &&
	    (k = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)k;
	close(fd);
	buf[n] = '\0';
	if ((body = strstr(buf, "\r\n\r\n")) == NULL)
		return NULL;
	return json_loads(body + 4, 0, NULL);
}

/*
 * CPU seconds the store's main thread has used (INFO cpu), or -1: the
 * callbacks' limit is the store's work per event, so the scenario reports
 * it (a deep outbox keeps redis-server's one thread busy).
 */
static double
store_cpu_s(codeq_t *c)
{
	codeq_error err;
	redisReply *r = store_command(c, &err, "INFO cpu");
	double user = -1, sys = -1;
	const char *p;

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING) {
		if ((p = strstr(r->str, "used_cpu_user_main_thread:")) != NULL)
			user = strtod(strchr(p, ':') + 1, NULL);
		if ((p = strstr(r->str, "used_cpu_sys_main_thread:")) != NULL)
			sys = strtod(strchr(p, ':') + 1, NULL);
	}
	freeReplyObject(r);
	return user >= 0 && sys >= 0 ? user + sys : -1;
}

static void
scn_callbacks(void)
{
	char conf[4096], recdir[4096], pool[8192], url[4096];
	codeq_t *c = connect_store();
	json_t *before, *after;
	long got = 0;
	double cpu0, cpu1;

	if (O.sink == NULL)
		die("callbacks: --sink URL needed");
	snprintf(recdir, sizeof(recdir), "%s/rec-%s", O.dir, O.scenario);
	mkdir(recdir, 0755);
	snprintf(url, sizeof(url), "%s/cb", O.sink);
	pool_so(pool, sizeof(pool), recdir);
	snprintf(conf, sizeof(conf), "%s/%s-fill.conf", O.dir, O.scenario);
	/* Phase 1: complete the tasks with the callbacks process off, so
	 * the outbox holds n items. */
	write_config(conf, 0, pool);
	start_codeqd(conf, O.workers);
	sampler_start();
	enqueue_batches(c, O.n, 0, 0, 0, url);
	wait_completed(O.n);
	sampler_finish();
	stop_codeqd();
	json_object_set_new(extra, "outbox_filled",
	    json_integer(atomic_load(&outbox_now)));
	/* Phase 2: the callbacks process drains it. */
	before = sink_stats("_reset");
	cpu0 = store_cpu_s(c);
	snprintf(conf, sizeof(conf), "%s/%s.conf", O.dir, O.scenario);
	write_config(conf, WEBHOOK_CALLBACKS, pool);
	nprocs = 0;
	atomic_store(&nsamples, 0);
	start_codeqd(conf, O.workers + 1);
	sampler_start();
	while (!timed_out()) {
		after = sink_stats("_stats");
		got = after ? (long)json_integer_value(json_object_get(after,
		    "results")) : 0;
		json_decref(after);
		if (got >= O.n)
			break;
		sleep_us(20000);
	}
	cpu1 = store_cpu_s(c);
	sampler_finish();
	stop_codeqd();
	after = sink_stats("_stats");
	if (before && after) {
		double req = (double)json_integer_value(json_object_get(after, "requests"));
		double ev = (double)json_integer_value(json_object_get(after, "results"));
		int64_t first = json_integer_value(json_object_get(after, "first_us"));
		int64_t last = json_integer_value(json_object_get(after, "last_us"));
		/* The delivery rate from codeqd's start (its start-up
		 * included) to the last POST; and from the first POST. */
		double span = (double)(last - codeqd_started_us) / 1e6;
		double span1 = (double)(last - first) / 1e6;

		if (span <= 0)
			span = 1e-3;
		json_object_set_new(extra, "requests", json_real(req));
		json_object_set_new(extra, "events", json_real(ev));
		json_object_set_new(extra, "delivered_all", json_boolean(ev >= O.n));
		json_object_set_new(extra, "requests_per_s", json_real(req / span));
		json_object_set_new(extra, "events_per_s", json_real(ev / span));
		json_object_set_new(extra, "events_per_s_first_to_last_post",
		    json_real(span1 > 0 ? ev / span1 : 0));
		json_object_set_new(extra, "events_per_request",
		    json_real(req > 0 ? ev / req : 0));
		if (cpu0 >= 0 && cpu1 >= cpu0 && ev > 0) {
			json_object_set_new(extra, "store_cpu_s",
			    json_real(cpu1 - cpu0));
			json_object_set_new(extra, "store_cpu_us_per_event",
			    json_real((cpu1 - cpu0) * 1e6 / ev));
			json_object_set_new(extra, "store_busy",
			    json_real((cpu1 - cpu0) / span));
		}
		elapsed_s = span;
		tasks_done = (long)ev;
	}
	json_decref(before);
	json_decref(after);
	codeq_close(c);
}

/*
 * WORK_AVAILABLE (docs/webhooks.md).  --subscribers S subscriptions in
 * fanout mode, each to its own sink path /wa/<i> (one per worker host, say)
 * and to every queue ("*"); --producers P threads enqueue N tasks in
 * pipelined batches, round-robin over --queues Q queues, as fast as the
 * store takes them.  No pool serves these queues: every signalled queue
 * still has ready tasks when the notifier reads its depth.
 *
 * An event is one queue entry delivered to one subscriber in a POST (the
 * sink counts the "ready" members of the bodies); a request is one POST.
 * The notifier coalesces the signals of a [notifier] coalesce window (50 ms
 * here, the default) and sends each subscriber at most one POST per window
 * with every queue signalled in it, so the producers offer
 *     offered events/s = S x min(enqueues/s, Q / window)
 * (the enqueues of one window are distinct queues, up to Q, by the round
 * robin).  A notifier that keeps up delivers about that (kept_up near 1)
 * in about S / window requests/s, with min(Q, enqueues per window) events
 * per request; one that does not delivers less, in longer windows (fewer
 * requests, each with more queues, up to Q).  The rates are taken while
 * the producers run, from the first POST on (steady_*), and over the whole
 * run from the first to the last POST (events_per_s, requests_per_s).
 *
 * --one-queue-each: subscriber i listens to queue i mod Q only, so a POST
 * carries one entry: with S = Q this measures the notifier's unbatched
 * request rate, offered S x min(enqueues/s / Q, 1 / window) requests/s.
 */
#define WA_WINDOW_S	0.05	/* [notifier] coalesce, default */
#define WA_SUBS_MAX	2000

struct wa_producer {
	pthread_t th;
	long first, n;		/* task indexes first .. first + n - 1 */
};

static atomic_int wa_producing;

static void
wa_queue_name(char *buf, size_t len, long i)
{
	snprintf(buf, len, "%s.%ld", queue, i % O.queues);
}

static void *
wa_produce(void *arg)
{
	struct wa_producer *p = arg;
	char payloads[BATCH][96], qnames[BATCH][160];
	codeq_task_spec specs[BATCH];
	codeq_enqueue_result res[BATCH];
	codeq_t *c = connect_store();
	codeq_error err;
	long done = 0, i, k;

	while (done < p->n && !timed_out()) {
		k = p->n - done < BATCH ? p->n - done : BATCH;
		memset(specs, 0, sizeof(specs));
		for (i = 0; i < k; i++) {
			wa_queue_name(qnames[i], sizeof(qnames[i]),
			    p->first + done + i);
			make_payload(payloads[i], sizeof(payloads[i]), 0, 0);
			specs[i].queue = qnames[i];
			specs[i].payload = payloads[i];
		}
		if (codeq_enqueue_batch(c, specs, (size_t)k, res, &err) != CODEQ_OK)
			atomic_fetch_add(&errors, k);
		done += k;
		atomic_fetch_add(&enqueued, k);
	}
	codeq_close(c);
	atomic_fetch_sub(&wa_producing, 1);
	return NULL;
}

/* The sink's counters: 0 when it did not answer. */
static void
wa_sink_counts(long *requests, long *events)
{
	json_t *st = sink_stats("_stats");

	*requests = st ? (long)json_integer_value(json_object_get(st,
	    "requests")) : 0;
	*events = st ? (long)json_integer_value(json_object_get(st, "ready")) : 0;
	json_decref(st);
}

static void
scn_workavail(void)
{
	static char subids[WA_SUBS_MAX][CODEQ_ID_MAX];
	char conf[4096], pool[8192], url[4096], qname[160];
	const char *all[1] = { "*" }, *one[1] = { qname };
	struct wa_producer prod[16];
	codeq_subscription_spec ss;
	codeq_t *c = connect_store();
	codeq_error err;
	json_t *st;
	long i, quiet = 0, last_ev = -1, rq = 0, ev = 0;
	long rq0 = 0, ev0 = 0, rq1 = 0, ev1 = 0;
	int np = O.producers < 1 ? 1 : O.producers > 16 ? 16 : O.producers;
	int64_t p0, p1 = 0, t0 = 0, t1 = 0;
	double span, steady, prod_s, enq_s, per_sub, offered;

	if (O.sink == NULL)
		die("workavail: --sink URL needed");
	if (O.subscribers < 1 || O.subscribers > WA_SUBS_MAX || O.queues < 1)
		die("workavail: --subscribers 1-%d and --queues >= 1", WA_SUBS_MAX);
	for (i = 0; i < O.subscribers; i++) {
		memset(&ss, 0, sizeof(ss));
		snprintf(url, sizeof(url), "%s/wa/%ld", O.sink, i);
		wa_queue_name(qname, sizeof(qname), i);
		ss.queues = O.one_queue_each ? one : all;
		ss.nqueues = 1;
		ss.url = url;
		ss.mode = CODEQ_SUB_FANOUT;
		ss.ttl_ms = 600000;
		if (codeq_subscribe(c, &ss, subids[i], &err) != CODEQ_OK)
			die("subscribe: %s", err.msg);
	}
	snprintf(pool, sizeof(pool), "so = %s\n", O.handler);
	snprintf(conf, sizeof(conf), "%s/%s.conf", O.dir, O.scenario);
	write_config(conf, WEBHOOK_NOTIFIER, pool);
	json_decref(sink_stats("_reset"));
	start_codeqd(conf, O.workers + 1);
	sampler_start();
	atomic_store(&wa_producing, np);
	p0 = mono_us();
	for (i = 0; i < np; i++) {
		prod[i].first = O.n / np * i;
		prod[i].n = i == np - 1 ? O.n - prod[i].first : O.n / np;
		if (pthread_create(&prod[i].th, NULL, wa_produce, &prod[i]) != 0)
			die("pthread_create failed");
	}
	/* While the producers run: the first and the last sink count. */
	while (atomic_load(&wa_producing) > 0) {
		wa_sink_counts(&rq, &ev);
		if (ev > 0 && t0 == 0) {
			t0 = mono_us();
			rq0 = rq;
			ev0 = ev;
		}
		if (ev > 0) {
			t1 = mono_us();
			rq1 = rq;
			ev1 = ev;
		}
		sleep_us(20000);
	}
	p1 = mono_us();
	for (i = 0; i < np; i++)
		pthread_join(prod[i].th, NULL);
	/* Then until the sink has seen nothing new for a second. */
	while (!timed_out() && quiet < 50) {
		wa_sink_counts(&rq, &ev);
		quiet = ev == last_ev ? quiet + 1 : 0;
		last_ev = ev;
		sleep_us(20000);
	}
	sampler_finish();
	stop_codeqd();
	for (i = 0; i < O.subscribers; i++)
		codeq_subscription_remove(c, subids[i], &err);
	prod_s = (double)(p1 - p0) / 1e6;
	enq_s = prod_s > 0 ? (double)atomic_load(&enqueued) / prod_s : 0;
	/* Queues of one subscriber signalled per window, and the offer. */
	per_sub = O.one_queue_each ?
	    (enq_s * WA_WINDOW_S / (double)O.queues < 1 ?
	    enq_s * WA_WINDOW_S / (double)O.queues : 1) :
	    (enq_s * WA_WINDOW_S < (double)O.queues ?
	    enq_s * WA_WINDOW_S : (double)O.queues);
	offered = (double)O.subscribers * per_sub / WA_WINDOW_S;
	steady = t1 > t0 ? (double)(t1 - t0) / 1e6 : 0;
	json_object_set_new(extra, "subscribers", json_integer(O.subscribers));
	json_object_set_new(extra, "queues", json_integer(O.queues));
	json_object_set_new(extra, "producers", json_integer(np));
	json_object_set_new(extra, "one_queue_each",
	    json_boolean(O.one_queue_each));
	json_object_set_new(extra, "producing_s", json_real(prod_s));
	json_object_set_new(extra, "enqueues_per_s", json_real(enq_s));
	json_object_set_new(extra, "offered_per_subscriber_per_window",
	    json_real(per_sub));
	json_object_set_new(extra, "offered_events_per_s", json_real(offered));
	if (steady > 0) {
		double se = (double)(ev1 - ev0) / steady;
		double sr = (double)(rq1 - rq0) / steady;

		json_object_set_new(extra, "steady_s", json_real(steady));
		json_object_set_new(extra, "steady_events_per_s", json_real(se));
		json_object_set_new(extra, "steady_requests_per_s", json_real(sr));
		/* One POST per subscriber per window when it keeps up. */
		json_object_set_new(extra, "steady_requests_per_subscriber_per_s",
		    json_real(sr / (double)O.subscribers));
		json_object_set_new(extra, "steady_events_per_request",
		    json_real(rq1 > rq0 ? (double)(ev1 - ev0) /
		    (double)(rq1 - rq0) : 0));
		json_object_set_new(extra, "kept_up",
		    json_real(offered > 0 ? se / offered : 0));
	}
	if ((st = sink_stats("_paths")) != NULL) {
		json_object_set_new(extra, "per_subscriber", json_pack(
		    "{s:O, s:O, s:O, s:O, s:O}",
		    "paths", json_object_get(st, "paths"),
		    "requests_min", json_object_get(st, "requests_min"),
		    "requests_max", json_object_get(st, "requests_max"),
		    "events_min", json_object_get(st, "ready_min"),
		    "events_max", json_object_get(st, "ready_max")));
		json_decref(st);
	}
	st = sink_stats("_stats");
	if (st != NULL) {
		double req = (double)json_integer_value(json_object_get(st, "requests"));
		double evs = (double)json_integer_value(json_object_get(st, "ready"));

		span = (double)(json_integer_value(json_object_get(st, "last_us")) -
		    json_integer_value(json_object_get(st, "first_us"))) / 1e6;
		if (span <= 0)
			span = 1e-3;
		json_object_set_new(extra, "requests", json_real(req));
		json_object_set_new(extra, "events", json_real(evs));
		json_object_set_new(extra, "requests_per_s", json_real(req / span));
		json_object_set_new(extra, "events_per_s", json_real(evs / span));
		json_object_set_new(extra, "events_per_request",
		    json_real(req > 0 ? evs / req : 0));
		elapsed_s = span;
		tasks_done = (long)evs;
		json_decref(st);
	}
	codeq_close(c);
}

/* ---- output ------------------------------------------------------------ */

static json_t *
procs_json(void)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; i < nprocs; i++)
		json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:f, s:I, s:I, s:I, s:I}",
		    "pid", (int)procs[i].pid,
		    "role", procs[i].is_codeqd ? "codeqd" : "child",
		    "program", procs[i].comm,
		    "cpu_s", procs[i].cpu_s,
		    "peak_rss_kib", (json_int_t)procs[i].hwm_kib,
		    "rss_first_kib", (json_int_t)procs[i].rss_first_kib,
		    "rss_1s_kib", (json_int_t)procs[i].rss_early_kib,
		    "rss_last_kib", (json_int_t)procs[i].rss_kib));
	return arr;
}

/* Depth over time, at most ~200 points. */
static json_t *
depth_json(void)
{
	json_t *arr = json_array();
	int n = atomic_load(&nsamples), step = n / 200 + 1, i;

	for (i = 0; i < n; i += step)
		json_array_append_new(arr, json_pack("[f, I, I, I, I]",
		    samples[i].t, (json_int_t)samples[i].ready,
		    (json_int_t)samples[i].delayed, (json_int_t)samples[i].leased,
		    (json_int_t)samples[i].completed));
	return arr;
}

static void
output(void)
{
	json_t *o;
	double cpu_children = 0, cpu_codeqd = 0;
	long max_child = 0, codeqd_rss = 0, max_webhooks = 0;
	int i;
	char *s;
	FILE *f;

	for (i = 0; i < nprocs; i++) {
		if (procs[i].is_codeqd) {
			cpu_codeqd = procs[i].cpu_s;
			codeqd_rss = procs[i].hwm_kib;
		} else {
			cpu_children += procs[i].cpu_s;
			/* The notifier and callbacks are not workers. */
			if (strcmp(procs[i].comm, "codeq-webhooks") == 0) {
				if (procs[i].hwm_kib > max_webhooks)
					max_webhooks = procs[i].hwm_kib;
			} else if (procs[i].hwm_kib > max_child)
				max_child = procs[i].hwm_kib;
		}
	}
	o = json_pack("{s:s, s:s, s:I, s:i, s:i, s:f, s:I, s:f, s:I, s:I}",
	    "scenario", O.scenario, "queue", queue, "tasks", (json_int_t)O.n,
	    "workers", O.workers, "prefetch", O.prefetch,
	    "seconds", elapsed_s, "completed", (json_int_t)tasks_done,
	    "per_second", elapsed_s > 0 ? (double)tasks_done / elapsed_s : 0.0,
	    "errors", (json_int_t)atomic_load(&errors),
	    "enqueued", (json_int_t)atomic_load(&enqueued));
	json_object_set_new(o, "latency_ms", json_pack("{s:o, s:o, s:o, s:o, s:o}",
	    "enqueue", series_json(&lat_enqueue),
	    "enqueue_batch100", series_json(&lat_enqueue_batch),
	    "claim", series_json(&lat_claim),
	    "enqueue_to_start", series_json(&lat_e2e),
	    "lateness", series_json(&lat_late)));
	json_object_set_new(o, "processes", procs_json());
	/* The rate between 10 % and 90 % of the work, without start-up
	 * and tail. */
	{
		int ns = atomic_load(&nsamples), a = -1, z = -1;

		for (i = 0; i < ns; i++) {
			if (a < 0 && samples[i].completed >= tasks_done / 10)
				a = i;
			if (z < 0 && samples[i].completed >= tasks_done * 9 / 10)
				z = i;
		}
		if (a >= 0 && z > a)
			json_object_set_new(o, "steady_per_second", json_real(
			    (double)(samples[z].completed - samples[a].completed) /
			    (samples[z].t - samples[a].t)));
	}
	json_object_set_new(o, "summary", json_pack("{s:f, s:I, s:f, s:I, s:I}",
	    "codeqd_cpu_s", cpu_codeqd, "codeqd_peak_rss_kib",
	    (json_int_t)codeqd_rss, "children_cpu_s", cpu_children,
	    "worker_peak_rss_kib", (json_int_t)max_child,
	    "webhooks_peak_rss_kib", (json_int_t)max_webhooks));
	json_object_set_new(o, "depth", depth_json());
	json_object_set_new(o, "depth_columns",
	    json_pack("[s, s, s, s, s]", "t_s", "ready", "delayed", "leased",
	    "completed"));
	json_object_update(o, extra);
	s = json_dumps(o, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
	if (O.json != NULL && (f = fopen(O.json, "w")) != NULL) {
		fputs(s, f);
		fputc('\n', f);
		fclose(f);
	} else
		puts(s);
	free(s);
	json_decref(o);
}

/* --print-script NAME: the exact text libcodeq loads for a script, so
 * that bench/run's store ceiling runs what codeq runs. */
static int
print_script(const char *name)
{
	size_t i;

	for (i = 0; i < script_ndefs; i++)
		if (strcmp(script_defs[i].name, name) == 0) {
			fputs(script_defs[i].source, stdout);
			return 0;
		}
	fprintf(stderr, "codeq-bench: no script %s\n", name);
	return 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: codeq-bench --redis URL --codeqd PATH "
	    "--handler SO --dir DIR --scenario NAME [options]\n"
	    "  scenarios: cycle sustained burst many prefill priorities "
	    "delayed exec callbacks workavail\n"
	    "  workavail: --sink URL [--subscribers S] [--queues Q] "
	    "[--producers P] [--one-queue-each]\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "redis", 1, NULL, 'r' }, { "codeqd", 1, NULL, 'c' },
		{ "handler", 1, NULL, 'H' }, { "dir", 1, NULL, 'd' },
		{ "scenario", 1, NULL, 's' }, { "json", 1, NULL, 'j' },
		{ "workers", 1, NULL, 'w' }, { "prefetch", 1, NULL, 'P' },
		{ "producers", 1, NULL, 'p' }, { "rate", 1, NULL, 'R' },
		{ "duration", 1, NULL, 'D' }, { "depths", 1, NULL, 'e' },
		{ "spread", 1, NULL, 'S' }, { "exec", 1, NULL, 'x' },
		{ "sink", 1, NULL, 'k' }, { "log-level", 1, NULL, 'l' },
		{ "timeout", 1, NULL, 't' }, { "queues", 1, NULL, 'Q' },
		{ "print-script", 1, NULL, 'X' },
		{ "subscribers", 1, NULL, 'U' }, { "one-queue-each", 0, NULL, 'O' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		switch (ch) {
		case 'r': O.redis = optarg; break;
		case 'c': O.codeqd = optarg; break;
		case 'H': O.handler = optarg; break;
		case 'd': O.dir = optarg; break;
		case 's': O.scenario = optarg; break;
		case 'j': O.json = optarg; break;
		case 'n': O.n = atol(optarg); break;
		case 'w': O.workers = atoi(optarg); break;
		case 'P': O.prefetch = atoi(optarg); break;
		case 'p': O.producers = atoi(optarg); break;
		case 'R': O.rate = atof(optarg); break;
		case 'D': O.duration = atof(optarg); break;
		case 'e': O.depths = optarg; break;
		case 'S': O.spread = atof(optarg); break;
		case 'x': O.exec = optarg; break;
		case 'k': O.sink = optarg; break;
		case 'l': O.log_level = optarg; break;
		case 't': O.timeout = atof(optarg); break;
		case 'Q': O.queues = atol(optarg); break;
		case 'U': O.subscribers = atoi(optarg); break;
		case 'O': O.one_queue_each = 1; break;
		case 'X': return print_script(optarg);
		default: usage();
		}
	}
	if (!O.redis || !O.codeqd || !O.handler || !O.dir || !O.scenario ||
	    O.n < 1 || O.workers < 1 || O.prefetch < 1 || O.rate <= 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	deadline_mono = mono_us() + (int64_t)(O.timeout * 1e6);
	/* A fresh queue per run: nothing left over from earlier runs. */
	snprintf(queue, sizeof(queue), "bench.%s.%ld.%d", O.scenario,
	    (long)time(NULL), (int)getpid());
	extra = json_object();
	if (strcmp(O.scenario, "cycle") == 0 || strcmp(O.scenario, "many") == 0)
		scn_drain(0, 1);
	else if (strcmp(O.scenario, "exec") == 0)
		scn_drain(1, 0);
	else if (strcmp(O.scenario, "sustained") == 0)
		scn_sustained(0);
	else if (strcmp(O.scenario, "burst") == 0)
		scn_sustained(1);
	else if (strcmp(O.scenario, "prefill") == 0)
		scn_prefill();
	else if (strcmp(O.scenario, "drain") == 0)
		scn_predrain();
	else if (strcmp(O.scenario, "bulk") == 0)
		scn_bulk();
	else if (strcmp(O.scenario, "priorities") == 0)
		scn_priorities();
	else if (strcmp(O.scenario, "delayed") == 0)
		scn_delayed();
	else if (strcmp(O.scenario, "callbacks") == 0)
		scn_callbacks();
	else if (strcmp(O.scenario, "workavail") == 0)
		scn_workavail();
	else
		usage();
	if (timed_out())
		fprintf(stderr, "codeq-bench: %s: stopped at --timeout\n",
		    O.scenario);
	output();
	return 0;
}
