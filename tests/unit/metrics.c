/*
 * tests/unit/metrics.c - unit tests of the metrics registry, its Prometheus
 * text exposition and the folding of children's counter reports.
 */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codeq_metrics.h"
#include "conf.h"
#include "metrics.h"

static char *
render(struct metrics *r)
{
	size_t len = 0;
	char *s = metrics_render(r, &len);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(strlen(s), len);
	return s;
}

static void
assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		ck_abort_msg("exposition lacks \"%s\":\n%s", needle, hay);
}

START_TEST(test_counter_and_gauge)
{
	struct metrics *r = metrics_new();
	struct metric *c, *g;
	const char *lv[2] = { "emails", "default" };
	char *s;

	ck_assert_ptr_nonnull(r);
	c = metrics_counter(r, "codeq_x_total", "Things done.", "queue,pool");
	g = metrics_gauge(r, "codeq_depth", "Things waiting.", "queue,pool");
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(g);
	metric_add(c, lv, 1);
	metric_add(c, lv, 2);
	metric_add(c, lv, -5);		/* counters never go down */
	metric_add(c, lv, NAN);
	metric_set(g, lv, 7);
	metric_set(g, lv, 4.5);
	ck_assert(metric_get(c, lv) == 3);
	ck_assert(metric_get(g, lv) == 4.5);
	s = render(r);
	assert_contains(s, "# HELP codeq_x_total Things done.\n"
	    "# TYPE codeq_x_total counter\n"
	    "codeq_x_total{queue=\"emails\",pool=\"default\"} 3\n");
	assert_contains(s, "# TYPE codeq_depth gauge\n"
	    "codeq_depth{queue=\"emails\",pool=\"default\"} 4.5\n");
	free(s);
	metric_clear(g);
	ck_assert(metric_get(g, lv) == 0);
	s = render(r);
	ck_assert_ptr_null(strstr(s, "codeq_depth{"));
	assert_contains(s, "# TYPE codeq_depth gauge\n");
	free(s);
	metrics_free(r);
}
END_TEST

START_TEST(test_unlabelled_is_exposed_at_zero)
{
	struct metrics *r = metrics_new();
	char *s;

	ck_assert_ptr_nonnull(metrics_counter(r, "codeq_y_total", "Y.", NULL));
	s = render(r);
	assert_contains(s, "\ncodeq_y_total 0\n");
	free(s);
	metrics_free(r);
}
END_TEST

START_TEST(test_histogram)
{
	static const double b[] = { 0.1, 0.5, 1 };
	struct metrics *r = metrics_new();
	struct metric *h;
	const char *lv[1] = { "p" };
	char *s;

	h = metrics_histogram(r, "codeq_h_seconds", "H.", "pool", b, 3);
	ck_assert_ptr_nonnull(h);
	metric_observe(h, lv, 0.05);
	metric_observe(h, lv, 0.1);	/* le is inclusive */
	metric_observe(h, lv, 0.7);
	metric_observe(h, lv, 3);
	ck_assert(metric_get(h, lv) == 4);
	s = render(r);
	assert_contains(s, "# TYPE codeq_h_seconds histogram\n"
	    "codeq_h_seconds_bucket{pool=\"p\",le=\"0.1\"} 2\n"
	    "codeq_h_seconds_bucket{pool=\"p\",le=\"0.5\"} 2\n"
	    "codeq_h_seconds_bucket{pool=\"p\",le=\"1\"} 3\n"
	    "codeq_h_seconds_bucket{pool=\"p\",le=\"+Inf\"} 4\n"
	    "codeq_h_seconds_sum{pool=\"p\"} 3.85\n"
	    "codeq_h_seconds_count{pool=\"p\"} 4\n");
	free(s);
	metrics_free(r);
}
END_TEST

START_TEST(test_escaping)
{
	struct metrics *r = metrics_new();
	struct metric *g;
	const char *lv[1] = { "a\"b\\c\nd" };
	char *s;

	g = metrics_gauge(r, "codeq_e", "Help with \\ and\nnewline.", "queue");
	metric_set(g, lv, 1);
	s = render(r);
	assert_contains(s, "# HELP codeq_e Help with \\\\ and\\nnewline.\n");
	assert_contains(s, "codeq_e{queue=\"a\\\"b\\\\c\\nd\"} 1\n");
	free(s);
	metrics_free(r);
}
END_TEST

START_TEST(test_bad_declarations)
{
	static const double bad[] = { 1, 0.5 };
	struct metrics *r = metrics_new();

	ck_assert_ptr_null(metrics_counter(r, "codeq_no_suffix", "x", NULL));
	ck_assert_ptr_null(metrics_gauge(r, "1abc", "x", NULL));
	ck_assert_ptr_null(metrics_gauge(r, "codeq-dash", "x", NULL));
	ck_assert_ptr_null(metrics_gauge(r, "codeq_l", "x", "le"));
	ck_assert_ptr_null(metrics_gauge(r, "codeq_l", "x", "__x"));
	ck_assert_ptr_null(metrics_gauge(r, "codeq_l", "x", "a,a"));
	ck_assert_ptr_null(metrics_gauge(r, "codeq_l", "x", "a,b,c,d,e"));
	ck_assert_ptr_null(metrics_histogram(r, "codeq_h", "x", NULL, bad, 2));
	/* Same declaration twice: the same family; a different one: NULL. */
	ck_assert_ptr_eq(metrics_gauge(r, "codeq_g", "x", "a"),
	    metrics_gauge(r, "codeq_g", "x", "a"));
	ck_assert_ptr_null(metrics_gauge(r, "codeq_g", "x", "b"));
	ck_assert_ptr_null(metrics_counter(r, "codeq_g", "x", "a"));
	metrics_free(r);
}
END_TEST

START_TEST(test_series_bound)
{
	struct metrics *r = metrics_new();
	struct metric *c;
	char v[16], *s;
	const char *lv[1] = { v };
	int i;

	c = metrics_counter(r, "codeq_b_total", "B.", "queue");
	metric_set_max_series(c, 3);
	for (i = 0; i < 10; i++) {
		snprintf(v, sizeof(v), "q%d", i);
		metric_add(c, lv, 1);
	}
	snprintf(v, sizeof(v), "q1");
	metric_add(c, lv, 1);		/* existing series still counts */
	ck_assert(metric_get(c, lv) == 2);
	snprintf(v, sizeof(v), "q5");
	ck_assert(metric_get(c, lv) == 0);
	s = render(r);
	assert_contains(s, "codeq_metrics_dropped_updates_total{metric=\"codeq_b_total\"} 7\n");
	free(s);
	metrics_free(r);
}
END_TEST

START_TEST(test_format_value)
{
	char b[32];

	metrics_format_value(0.1, b, sizeof(b));
	ck_assert_str_eq(b, "0.1");
	metrics_format_value(1e6, b, sizeof(b));
	ck_assert_str_eq(b, "1000000");
	metrics_format_value(-3, b, sizeof(b));
	ck_assert_str_eq(b, "-3");
	metrics_format_value(INFINITY, b, sizeof(b));
	ck_assert_str_eq(b, "+Inf");
	metrics_format_value(-INFINITY, b, sizeof(b));
	ck_assert_str_eq(b, "-Inf");
	metrics_format_value(NAN, b, sizeof(b));
	ck_assert_str_eq(b, "NaN");
	metrics_format_value(1.0 / 3, b, sizeof(b));
	ck_assert(strtod(b, NULL) == 1.0 / 3);
	metrics_format_value(1e20, b, sizeof(b));
	ck_assert(strtod(b, NULL) == 1e20);
}
END_TEST

START_TEST(test_cqm_registry_events)
{
	const char *qp[2] = { "emails", "mail" };
	const char *p[1] = { "mail" };
	const char *ab[3] = { "emails", "mail", "worker_died" };
	char *s;

	ck_assert_int_eq(cqm_init(), 0);
	ck_assert(cqm_is_registry());
	cqm_task_claimed("mail", "emails");
	cqm_task_claimed("mail", "emails");
	cqm_task_claimed("mail", "emails");
	/* Leases held come from the dispatcher's lease table, not from
	 * counting claims and dones. */
	ck_assert(metric_get(cqm.leases_held, p) == 0);
	cqm_leases_held("mail", 3);
	ck_assert(metric_get(cqm.leases_held, p) == 3);
	cqm_task_done("mail", "emails", "completed");
	cqm_task_done("mail", "emails", "retry");
	cqm_task_done("mail", "emails", "worker_died");
	cqm_task_done("mail", "emails", "completed");	/* more dones than claims */
	ck_assert(metric_get(cqm.claimed, qp) == 3);
	ck_assert(metric_get(cqm.completed, qp) == 2);
	ck_assert(metric_get(cqm.retried, qp) == 1);
	ck_assert(metric_get(cqm.abandoned, ab) == 1);
	ck_assert(metric_get(cqm.leases_held, p) == 3);
	cqm_leases_held("mail", 0);
	ck_assert(metric_get(cqm.leases_held, p) == 0);
	cqm_worker_restart("mail", "signal");
	cqm_worker_restart("mail", "something odd");
	cqm_handler_duration("mail", 0.2);
	cqm_webhook("result", "success", 0.03);
	cqm_store_error("dispatcher");
	cqm_pool_status("gone", 1, 2);
	cqm_pool_status("mail", 1, 4);
	cqm_expire_pools(60);
	ck_assert(metric_get(cqm.pool_workers, (const char *[]){ "gone" }) == 2);
	cqm_expire_pools(-1);	/* every pool is older than that */
	ck_assert(metric_get(cqm.pool_workers, (const char *[]){ "gone" }) == 0);
	ck_assert(metric_get(cqm.pool_workers, (const char *[]){ "mail" }) == 0);
	cqm_pool_status("mail", 1, 4);
	cqm_total(CQM_REAPED, 4);
	cqm_total(CQM_TOTAL_MAX, 9);	/* not a total: ignored */
	cqm_fold(77, "worker", NULL, "m.handler_timeouts", 1);
	cqm_fold(77, "worker", NULL, "handler_timeouts", 5);	/* no "m.": ignored */
	cqm_child_gone(77);
	s = metrics_render(cqm.reg, NULL);
	assert_contains(s, "\ncodeq_leases_reaped_total 4\n");
	assert_contains(s, "\ncodeq_handler_timeouts_total 1\n");
	assert_contains(s, "codeq_pool_workers{pool=\"mail\"} 4\n");
	ck_assert_ptr_null(strstr(s, "pool=\"gone\""));
	assert_contains(s, "codeq_build_info{version=\"" PACKAGE_VERSION "\"} 1\n");
	assert_contains(s, "codeq_worker_restarts_total{pool=\"mail\",reason=\"signal\"} 1\n");
	assert_contains(s, "codeq_worker_restarts_total{pool=\"mail\",reason=\"other\"} 1\n");
	assert_contains(s, "codeq_handler_duration_seconds_count{pool=\"mail\"} 1\n");
	assert_contains(s, "codeq_webhook_requests_total{kind=\"result\",outcome=\"success\"} 1\n");
	assert_contains(s, "codeq_store_errors_total{proc=\"dispatcher\"} 1\n");
	free(s);
	cqm_shutdown();
}
END_TEST

/* Child mode in a forked child, folded back in the parent exactly as the
 * dispatcher does with IPC_COUNTERS: the histograms must come out as if
 * observed in the registry. */
START_TEST(test_cqm_fold)
{
	char *queues[2] = { "a", "b" };
	struct pool_config pool = { .name = "p", .queues = queues, .nqueues = 2 };
	const char *pl[1] = { "p" };
	const char *qb[2] = { "b", "p" };
	const char *wk[2] = { "result", "retry" };
	const char *wp[1] = { "callbacks" };
	int fds[2], status;
	size_t i, n;
	pid_t pid;
	FILE *f;
	char name[64];
	unsigned long long v;

	ck_assert_int_eq(cqm_init(), 0);
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* The atfork handler switched this process to child mode. */
		if (cqm_is_registry())
			_exit(2);
		cqm_handler_duration("p", 0.2);
		cqm_handler_duration("p", 7);
		cqm_claim_latency("p", 0.002);
		cqm_dead_lettered("p", "b", 1);
		cqm_webhook("result", "retry", 0.3);
		cqm_store_error("worker");
		cqm_store_reconnect("worker");
		f = fdopen(fds[1], "w");
		for (i = 0; i < cqm_local_count(); i++) {
			const char *nm;
			uint64_t val;
			if (cqm_local_get(i, &nm, &val) != 0 || strlen(nm) >= 64)
				_exit(3);
			fprintf(f, "%s %llu\n", nm, (unsigned long long)val);
		}
		fclose(f);
		_exit(0);
	}
	close(fds[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	f = fdopen(fds[0], "r");
	n = 0;
	while (fscanf(f, "%63s %llu", name, &v) == 2) {
		/* Twice: the second report carries the same absolute values
		 * and must add nothing. */
		cqm_fold(pid, "worker", &pool, name, v);
		cqm_fold(pid, "worker", &pool, name, v);
		n++;
	}
	fclose(f);
	ck_assert_uint_ge(n, 8);
	ck_assert(metric_get(cqm.handler_seconds, pl) == 2);
	ck_assert(fabs(metric_hist_sum(cqm.handler_seconds, pl) - 7.2) < 1e-9);
	ck_assert(metric_get(cqm.claim_seconds, pl) == 1);
	ck_assert(metric_get(cqm.dead_lettered, qb) == 1);
	/* A worker does not send webhooks, but the fold is by name. */
	ck_assert(metric_get(cqm.store_errors, (const char *[]){ "worker" }) == 1);
	ck_assert(metric_get(cqm.store_reconnects, (const char *[]){ "worker" }) == 1);

	/* A callbacks process: kind comes from the process. */
	cqm_fold(4242, "callbacks", NULL, "m.webhook.retry", 3);
	cqm_fold(4242, "callbacks", NULL, "m.webhook.retry", 5);
	ck_assert(metric_get(cqm.webhook_requests, wk) == 5);
	cqm_fold(4242, "callbacks", NULL, "m.store_errors", 2);
	ck_assert(metric_get(cqm.store_errors, wp) == 2);
	/* A smaller value: a new process reused the pid. */
	cqm_fold(4242, "callbacks", NULL, "m.webhook.retry", 1);
	ck_assert(metric_get(cqm.webhook_requests, wk) == 6);
	cqm_child_gone(4242);
	cqm_fold(4242, "callbacks", NULL, "m.webhook.retry", 2);
	ck_assert(metric_get(cqm.webhook_requests, wk) == 8);
	/* Garbage names and out-of-range buckets are ignored. */
	cqm_fold(4243, "worker", &pool, "m.handler_seconds.b99", 1);
	cqm_fold(4243, "worker", &pool, "m.handler_seconds.bx", 1);
	cqm_fold(4243, "worker", &pool, "m.dead_lettered.7", 1);
	cqm_fold(4243, "worker", &pool, "nonsense", 1);
	cqm_fold(4243, "worker", &pool, "store_errors", 5);	/* not ours */
	ck_assert(metric_get(cqm.store_errors, (const char *[]){ "worker" }) == 1);
	ck_assert(metric_get(cqm.handler_seconds, pl) == 2);
	cqm_shutdown();
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_counter_and_gauge);
	tcase_add_test(tc, test_unlabelled_is_exposed_at_zero);
	tcase_add_test(tc, test_histogram);
	tcase_add_test(tc, test_escaping);
	tcase_add_test(tc, test_bad_declarations);
	tcase_add_test(tc, test_series_bound);
	tcase_add_test(tc, test_format_value);
	tcase_add_test(tc, test_cqm_registry_events);
	tcase_add_test(tc, test_cqm_fold);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
