/*
 * tests/webhooks/httpc.c - drives webhooks/http.c from the tests: POSTs a small
 * signed JSON body to every URL given, all at once, and prints one line
 * per completed request, in completion order:
 *
 *   URL STATUS VERDICT RETRY_AFTER_MS ERROR
 *
 * usage: webhooks_httpc [-l] [-p] [-t TIMEOUT_MS] [-n REPEAT] URL...
 *   -l allow loopback, -p allow private; the secret comes from $SINK_SECRET.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "sign.h"

static int pending;

struct probe {
	char url[512];
};

static void
done(void *arg, const struct http_result *r)
{
	struct probe *p = arg;

	printf("%s %ld %s %lld %s\n", p->url, r->status,
	    http_verdict_name(http_classify(r)), (long long)r->retry_after_ms,
	    r->error);
	fflush(stdout);
	free(p);
	pending--;
}

static struct curl_slist *
signed_headers(const struct sign_key *k, const char *id, const char *body)
{
	struct curl_slist *h = NULL;
	char line[256], sig[SIGN_STD_MAX], hex[SIGN_HEX_MAX];
	long long ts = (long long)time(NULL);

	if (k == NULL)
		return NULL;
	sign_standard(k, id, ts, body, strlen(body), sig);
	sign_codeq(k, ts, body, strlen(body), hex);
	snprintf(line, sizeof(line), "webhook-id: %s", id);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "webhook-timestamp: %lld", ts);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "webhook-signature: %s", sig);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-CodeQ-Timestamp: %lld", ts);
	h = curl_slist_append(h, line);
	snprintf(line, sizeof(line), "X-CodeQ-Signature: %s", hex);
	return curl_slist_append(h, line);
}

int
main(int argc, char **argv)
{
	struct http_opts o = { .max_per_host = 4, .connect_timeout_ms = 2000,
	    .timeout_ms = 3000 };
	struct sign_key key, *kp = NULL;
	struct ev_loop *loop = EV_DEFAULT;
	struct http *h;
	char err[256];
	int ch, repeat = 1, n = 0;

	while ((ch = getopt(argc, argv, "lpt:n:")) != -1) {
		switch (ch) {
		case 'l': o.allow_loopback = 1; break;
		case 'p': o.allow_private = 1; break;
		case 't': o.timeout_ms = atol(optarg); break;
		case 'n': repeat = atoi(optarg); break;
		default: return 2;
		}
	}
	if (getenv("SINK_SECRET")) {
		if (sign_key_from_env("SINK_SECRET", &key, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		kp = &key;
	}
	if ((h = http_new(loop, &o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int rep = 0; rep < repeat; rep++) {
		for (int i = optind; i < argc; i++) {
			struct probe *p = calloc(1, sizeof(*p));
			char id[64], *body = malloc(64);

			if (p == NULL || body == NULL)
				return 1;
			snprintf(p->url, sizeof(p->url), "%s", argv[i]);
			snprintf(id, sizeof(id), "msg_%d", n);
			snprintf(body, 64, "{\"n\":%d}", n++);
			if (http_post(h, argv[i], body, strlen(body),
			    signed_headers(kp, id, body), done, p) < 0) {
				fprintf(stderr, "http_post failed\n");
				return 1;
			}
			pending++;
		}
	}
	while (pending > 0)
		ev_run(loop, EVRUN_ONCE);
	http_free(h);
	return 0;
}
