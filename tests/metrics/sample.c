/*
 * tests/metrics/sample.c - prints an exposition with every codeq family
 * populated (and awkward label values), for tests/metrics/promtool.sh.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "codeq_metrics.h"

int
main(void)
{
	const char *qs[2] = { "emails", "odd\"queue\\name" };
	const char *st[2] = { "emails", "ready" };
	const char *q1[1] = { "emails" };
	size_t len;
	char *s;

	if (cqm_init() != 0) {
		fprintf(stderr, "metrics_sample: cqm_init failed\n");
		return 1;
	}
	cqm_task_claimed("mail", qs[0]);
	cqm_task_claimed("mail", qs[1]);
	cqm_task_done("mail", qs[0], "completed");
	cqm_task_done("mail", qs[1], "failed");
	cqm_task_done("mail", qs[1], "retry");
	cqm_task_done("mail", qs[1], "worker_died");
	cqm_dead_lettered("mail", qs[0], 0);
	cqm_handler_duration("mail", 0.42);
	cqm_claim_latency("mail", 0.0012);
	cqm_worker_restart("mail", "signal");
	cqm_pool_status("mail", 1, 4);
	cqm_webhook("work_available", "success", 0.02);
	cqm_webhook("result", "permanent", 1.5);
	cqm_store_error("worker");
	cqm_store_reconnect("dispatcher");
	metric_set(cqm.queue_depth, st, 12);
	metric_set(cqm.queue_oldest_ready, q1, 3.25);
	metric_set(cqm.callback_outbox, q1, 2);
	metric_set(cqm.callback_dlq, q1, 1);
	metric_set(cqm.queues, NULL, 2);
	metric_set(cqm.store_up, NULL, 1);
	if ((s = metrics_render(cqm.reg, &len)) == NULL) {
		fprintf(stderr, "metrics_sample: out of memory\n");
		return 1;
	}
	fwrite(s, 1, len, stdout);
	free(s);
	cqm_shutdown();
	return 0;
}
