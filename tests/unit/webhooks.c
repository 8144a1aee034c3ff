/*
 * tests/unit/webhooks.c - unit tests of the self-contained webhook parts:
 * signatures against published vectors, libcodeq's webhook URL check
 * against libcurl's reading of the same URLs, the address policy and the
 * HTTP outcome classification.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>

#include "addrpolicy.h"
#include "http.h"
#include "callbacks_batch.h"
#include "notifier_route.h"
#include "sign.h"
#include "urlpolicy.h"
#include "utf8.h"
#include "webhook.h"

/* The Standard Webhooks specification's example. */
#define STD_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define STD_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define STD_TS 1614265330
#define STD_BODY "{\"test\": 2432232314}"

START_TEST(sign_standard_vector)
{
	struct sign_key k;
	char err[128], sig[SIGN_STD_MAX];

	ck_assert_int_eq(sign_key_parse(STD_SECRET, &k, err, sizeof(err)), 0);
	ck_assert_int_eq(k.key_len, 24);
	ck_assert_int_eq(sign_standard(&k, STD_ID, STD_TS, STD_BODY,
	    strlen(STD_BODY), sig), 0);
	ck_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}
END_TEST

START_TEST(sign_codeq_vector)
{
	struct sign_key k;
	char err[128], sig[SIGN_HEX_MAX];

	/* Computed independently: hmac.new(secret, ts "." body, sha256). */
	ck_assert_int_eq(sign_key_parse(STD_SECRET "\n", &k, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(sign_codeq(&k, STD_TS, STD_BODY, strlen(STD_BODY),
	    sig), 0);
	ck_assert_str_eq(sig, "2e37df5d4a028c51a7f3133d64ae1e300d2c2c900f1"
	    "b1d49d4369ad2530f8964");
}
END_TEST

START_TEST(sign_key_errors)
{
	struct sign_key k;
	char err[128];

	ck_assert_int_eq(sign_key_parse("", &k, err, sizeof(err)), -1);
	ck_assert_int_eq(sign_key_parse("  \n", &k, err, sizeof(err)), -1);
	ck_assert_int_eq(sign_key_parse("whsec_!!!!", &k, err, sizeof(err)),
	    -1);
	ck_assert_int_eq(sign_key_parse("whsec_abc", &k, err, sizeof(err)),
	    -1);
	/* No prefix: raw bytes for both schemes. */
	ck_assert_int_eq(sign_key_parse("plain-secret", &k, err, sizeof(err)),
	    0);
	ck_assert_int_eq(k.key_len, 12);
	ck_assert_int_eq(memcmp(k.key, "plain-secret", 12), 0);
}
END_TEST

START_TEST(base64_roundtrip)
{
	unsigned char in[7] = "abcdefg", out[16];
	char enc[16];

	for (size_t n = 1; n <= sizeof(in); n++) {
		ck_assert_int_eq(sign_base64_encode(in, n, enc, sizeof(enc)), 0);
		ck_assert_int_eq(sign_base64_decode(enc, strlen(enc), out,
		    sizeof(out)), (int)n);
		ck_assert_int_eq(memcmp(in, out, n), 0);
	}
}
END_TEST

/* The address in a bracketed literal, the n bytes at s, zone dropped. */
static int
ipv6_of(const char *s, size_t n, struct in6_addr *a)
{
	char buf[64];
	size_t len = strcspn(s + 1, "%]");

	if (n < 2 || len >= sizeof(buf) || len > n - 2)
		return -1;
	memcpy(buf, s + 1, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, a) == 1 ? 0 : -1;
}

/* Whether libcurl's host is p's: IPv6 literals compared as addresses
 * (libcurl drops the zone and may respell them), names as written. */
static int
same_host(const struct urlpolicy_parts *p, const char *curl_host)
{
	struct in6_addr a, b;

	if (p->host[0] != '[')
		return strlen(curl_host) == p->host_len &&
		    strncasecmp(curl_host, p->host, p->host_len) == 0;
	return ipv6_of(p->host, p->host_len, &a) == 0 &&
	    ipv6_of(curl_host, strlen(curl_host), &b) == 0 &&
	    memcmp(&a, &b, sizeof(a)) == 0;
}

/* What codeq accepts at registration, libcurl must read as the same
 * target when codeq-webhooks delivers: scheme, host and port. */
static void
agrees_with_curl(const char *url)
{
	struct urlpolicy_parts p;
	char err[256], *scheme = NULL, *host = NULL, *port = NULL;
	CURLU *u;
	CURLUcode uc;

	if (urlpolicy_parse(url, &p, err, sizeof(err)) < 0)
		return;
	ck_assert_ptr_nonnull(u = curl_url());
	uc = curl_url_set(u, CURLUPART_URL, url, 0);
	ck_assert_msg(uc == CURLUE_OK, "%s: accepted, libcurl says %s", url,
	    curl_url_strerror(uc));
	ck_assert_int_eq(curl_url_get(u, CURLUPART_SCHEME, &scheme, 0), 0);
	ck_assert_int_eq(curl_url_get(u, CURLUPART_HOST, &host, 0), 0);
	ck_assert_msg(strncasecmp(scheme, p.scheme, p.scheme_len) == 0 &&
	    strlen(scheme) == p.scheme_len, "%s: scheme %s", url, scheme);
	ck_assert_msg(same_host(&p, host), "%s: host %s", url, host);
	uc = curl_url_get(u, CURLUPART_PORT, &port, 0);
	ck_assert_msg(p.port == (uc == CURLUE_OK ? atoi(port) : 0),
	    "%s: port %d, libcurl's %s", url, p.port, port ? port : "none");
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

static uint32_t
xorshift(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/* One random edit of s (length *n, room for URL_FUZZ_MAX bytes): a byte
 * from the characters that matter to URLs replaced, inserted or cut. */
#define URL_FUZZ_MAX 200
static void
mutate(char *s, size_t *n, uint32_t *rng)
{
	static const char alphabet[] = "aZ09-._~%:/?#@[]!$&'()*+,;=<>\"\\^`{|}"
	    "\xc3\xa9 xX25ef";
	char ch = alphabet[xorshift(rng) % (sizeof(alphabet) - 1)];
	size_t at = *n ? xorshift(rng) % *n : 0;

	switch (xorshift(rng) % 3) {
	case 0:
		if (*n)
			s[at] = ch;
		break;
	case 1:
		if (*n + 1 < URL_FUZZ_MAX) {
			memmove(s + at + 1, s + at, *n - at);
			s[at] = ch;
			(*n)++;
		}
		break;
	default:
		if (*n) {
			memmove(s + at, s + at + 1, *n - at - 1);
			(*n)--;
		}
	}
	s[*n] = '\0';
}

START_TEST(url_policy_agrees_with_curl)
{
	static const char *const seeds[] = {
		"http://example.com/hook",
		"https://u:p@[fe80::1%25eth0]:8443/p?q#f",
		"http://a.b.example.:65535?x",
		"http://1.2.3.4:80/",
		"https://[::ffff:1.2.3.4]:/",
		"http://u%41:@h_~-.x/a@b",
		"HTTPS://X:1#",
	};
	uint32_t rng = 2463534242u;
	char s[URL_FUZZ_MAX + 1];

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		agrees_with_curl(seeds[i]);
	for (int round = 0; round < 200000; round++) {
		const char *seed = seeds[round % (sizeof(seeds) /
		    sizeof(seeds[0]))];
		size_t n = strlen(seed);
		char *copy;

		memcpy(s, seed, n + 1);
		for (int k = 1 + (int)(xorshift(&rng) % 4); k > 0; k--)
			mutate(s, &n, &rng);
		/* An exact-size copy: ASan sees any read past the NUL. */
		copy = strdup(s);
		ck_assert_ptr_nonnull(copy);
		agrees_with_curl(copy);
		free(copy);
	}
}
END_TEST

static enum addrpolicy_class
cls(const char *addr)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;

	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, addr, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return addrpolicy_classify((struct sockaddr *)&s4, sizeof(s4));
	}
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &s6.sin6_addr), 1);
	s6.sin6_family = AF_INET6;
	return addrpolicy_classify((struct sockaddr *)&s6, sizeof(s6));
}

START_TEST(address_classes)
{
	ck_assert_int_eq(cls("127.0.0.1"), ADDRPOLICY_LOOPBACK);
	ck_assert_int_eq(cls("127.255.0.9"), ADDRPOLICY_LOOPBACK);
	ck_assert_int_eq(cls("10.1.2.3"), ADDRPOLICY_PRIVATE);
	ck_assert_int_eq(cls("172.16.0.1"), ADDRPOLICY_PRIVATE);
	ck_assert_int_eq(cls("172.31.255.255"), ADDRPOLICY_PRIVATE);
	ck_assert_int_eq(cls("172.32.0.1"), ADDRPOLICY_PUBLIC);
	ck_assert_int_eq(cls("192.168.1.1"), ADDRPOLICY_PRIVATE);
	ck_assert_int_eq(cls("169.254.169.254"), ADDRPOLICY_PRIVATE);
	ck_assert_int_eq(cls("100.64.0.1"), ADDRPOLICY_PRIVATE);
	ck_assert_int_eq(cls("100.128.0.1"), ADDRPOLICY_PUBLIC);
	ck_assert_int_eq(cls("8.8.8.8"), ADDRPOLICY_PUBLIC);
	ck_assert_int_eq(cls("0.0.0.0"), ADDRPOLICY_NEVER);
	ck_assert_int_eq(cls("224.0.0.1"), ADDRPOLICY_NEVER);
	ck_assert_int_eq(cls("255.255.255.255"), ADDRPOLICY_NEVER);
	ck_assert_int_eq(cls("::1"), ADDRPOLICY_LOOPBACK);
	ck_assert_int_eq(cls("::"), ADDRPOLICY_NEVER);
	ck_assert_int_eq(cls("::ffff:127.0.0.1"), ADDRPOLICY_LOOPBACK);
	ck_assert_int_eq(cls("::ffff:10.0.0.1"), ADDRPOLICY_PRIVATE);
	ck_assert_int_eq(cls("fd00::1"), ADDRPOLICY_PRIVATE);
	ck_assert_int_eq(cls("fe80::1"), ADDRPOLICY_PRIVATE);
	ck_assert_int_eq(cls("ff02::1"), ADDRPOLICY_NEVER);
	ck_assert_int_eq(cls("2001:4860:4860::8888"), ADDRPOLICY_PUBLIC);
}
END_TEST

START_TEST(address_policy)
{
	struct sockaddr_in s4;

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
	ck_assert_int_eq(addrpolicy_allowed((void *)&s4, sizeof(s4), 0, 1),
	    0);
	ck_assert_int_eq(addrpolicy_allowed((void *)&s4, sizeof(s4), 1, 0),
	    1);
	inet_pton(AF_INET, "192.168.0.1", &s4.sin_addr);
	ck_assert_int_eq(addrpolicy_allowed((void *)&s4, sizeof(s4), 1, 0),
	    0);
	ck_assert_int_eq(addrpolicy_allowed((void *)&s4, sizeof(s4), 0, 1),
	    1);
	inet_pton(AF_INET, "0.0.0.0", &s4.sin_addr);
	ck_assert_int_eq(addrpolicy_allowed((void *)&s4, sizeof(s4), 1, 1),
	    0);
}
END_TEST

static enum http_verdict
verdict(int code, long status, int refused)
{
	struct http_result r;

	memset(&r, 0, sizeof(r));
	r.curl_code = code;
	r.status = status;
	r.refused = refused;
	return http_classify(&r);
}

START_TEST(http_verdicts)
{
	ck_assert_int_eq(verdict(0, 200, 0), HTTP_DELIVERED);
	ck_assert_int_eq(verdict(0, 204, 0), HTTP_DELIVERED);
	ck_assert_int_eq(verdict(0, 500, 0), HTTP_RETRY);
	ck_assert_int_eq(verdict(0, 503, 0), HTTP_RETRY);
	ck_assert_int_eq(verdict(0, 408, 0), HTTP_RETRY);
	ck_assert_int_eq(verdict(0, 429, 0), HTTP_RETRY);
	ck_assert_int_eq(verdict(0, 404, 0), HTTP_PERMANENT);
	ck_assert_int_eq(verdict(0, 400, 0), HTTP_PERMANENT);
	ck_assert_int_eq(verdict(0, 301, 0), HTTP_PERMANENT);
	ck_assert_int_eq(verdict(CURLE_OPERATION_TIMEDOUT, 0, 0), HTTP_RETRY);
	ck_assert_int_eq(verdict(CURLE_COULDNT_CONNECT, 0, 0), HTTP_RETRY);
	ck_assert_int_eq(verdict(CURLE_COULDNT_CONNECT, 0, 1), HTTP_PERMANENT);
}
END_TEST

static struct nsub *
mksub(const char *id, codeq_sub_mode mode, const char *group,
    int64_t min_interval, const char *q1, const char *q2)
{
	struct nsub *s = calloc(1, sizeof(*s));

	s->id = strdup(id);
	s->url = strdup("http://example.com/");
	s->mode = mode;
	s->group = strdup(group);
	s->min_interval_ms = min_interval;
	s->queues = calloc(2, sizeof(char *));
	s->queues[s->nqueues++] = strdup(q1);
	if (q2)
		s->queues[s->nqueues++] = strdup(q2);
	return s;
}

static struct nsub *
find(struct route *r, const char *id)
{
	for (size_t i = 0; i < route_count(r); i++)
		if (strcmp(route_get(r, i)->id, id) == 0)
			return route_get(r, i);
	return NULL;
}

START_TEST(route_fanout_batches)
{
	struct route *r = route_new();
	struct nsub **v = calloc(3, sizeof(*v));

	v[0] = mksub("a", CODEQ_SUB_FANOUT, "", 0, "q1", "q2");
	v[1] = mksub("b", CODEQ_SUB_FANOUT, "", 0, "q1", NULL);
	v[2] = mksub("c", CODEQ_SUB_FANOUT, "", 0, "q3", NULL);
	route_replace(r, v, 3);
	ck_assert_int_eq(route_assign(r, "q1", 3, 1000), 2);
	ck_assert_int_eq(route_assign(r, "q2", 1, 1000), 1);
	ck_assert_int_eq(route_assign(r, "q9", 1, 1000), 0);
	/* One batch per subscriber, carrying every queue with work for it. */
	ck_assert_int_eq(find(r, "a")->npending, 2);
	ck_assert_int_eq(find(r, "b")->npending, 1);
	ck_assert_int_eq(find(r, "c")->npending, 0);
	ck_assert_int_eq(find(r, "a")->pending[0].ready, 3);
	/* A reload keeps the batches of surviving subscriptions. */
	v = calloc(1, sizeof(*v));
	v[0] = mksub("a", CODEQ_SUB_FANOUT, "", 0, "q1", "q2");
	route_replace(r, v, 1);
	ck_assert_int_eq(find(r, "a")->npending, 2);
	ck_assert_int_eq(route_wants(r, "q1"), 1);
	ck_assert_int_eq(route_wants(r, "q3"), 0);
	route_free(r);
}
END_TEST

START_TEST(route_group_round_robin)
{
	struct route *r = route_new();
	struct nsub **v = calloc(4, sizeof(*v));
	int got[3] = { 0, 0, 0 };

	v[0] = mksub("g1", CODEQ_SUB_GROUP, "g", 0, "q", NULL);
	v[1] = mksub("g2", CODEQ_SUB_GROUP, "g", 0, "q", NULL);
	v[2] = mksub("g3", CODEQ_SUB_GROUP, "g", 0, "q", NULL);
	v[3] = mksub("f", CODEQ_SUB_FANOUT, "", 0, "q", NULL);
	route_replace(r, v, 4);
	for (int round = 0; round < 6; round++) {
		ck_assert_int_eq(route_assign(r, "q", 1, 1000 + round), 2);
		for (int i = 0; i < 3; i++) {
			char id[4] = { 'g', (char)('1' + i), 0 };
			struct nsub *s = find(r, id);

			if (s->npending) {
				got[i]++;
				route_sent(s, 1000 + round);
			}
		}
		route_sent(find(r, "f"), 1000 + round);
	}
	ck_assert_int_eq(got[0], 2);
	ck_assert_int_eq(got[1], 2);
	ck_assert_int_eq(got[2], 2);
	route_free(r);
}
END_TEST

START_TEST(route_hash_deterministic)
{
	struct route *r = route_new();
	struct nsub **v = calloc(3, sizeof(*v));
	const char *first = NULL;
	int spread[3] = { 0, 0, 0 };
	char q[16];

	v[0] = mksub("h1", CODEQ_SUB_HASH, "", 0, "*", NULL);
	v[1] = mksub("h2", CODEQ_SUB_HASH, "", 0, "*", NULL);
	v[2] = mksub("h3", CODEQ_SUB_HASH, "", 0, "*", NULL);
	route_replace(r, v, 3);
	for (int k = 0; k < 5; k++) {
		ck_assert_int_eq(route_assign(r, "orders", 1, 1), 1);
		for (size_t i = 0; i < 3; i++) {
			struct nsub *s = route_get(r, i);

			if (s->npending) {
				if (first == NULL)
					first = s->id;
				ck_assert_str_eq(first, s->id);
				route_sent(s, 1);
			}
		}
	}
	for (int k = 0; k < 60; k++) {
		snprintf(q, sizeof(q), "queue%d", k);
		route_assign(r, q, 1, 1);
	}
	for (size_t i = 0; i < 3; i++)
		spread[i] = (int)route_get(r, i)->npending;
	ck_assert_int_eq(spread[0] + spread[1] + spread[2], 60);
	ck_assert_int_gt(spread[0], 5);
	ck_assert_int_gt(spread[1], 5);
	ck_assert_int_gt(spread[2], 5);
	route_free(r);
}
END_TEST

START_TEST(route_min_interval)
{
	struct route *r = route_new();
	struct nsub **v = calloc(1, sizeof(*v));
	struct nsub *s;

	v[0] = mksub("m", CODEQ_SUB_FANOUT, "", 5000, "q", NULL);
	route_replace(r, v, 1);
	s = route_get(r, 0);
	ck_assert(route_next_send(s, 1000) == INT64_MAX);	/* nothing */
	route_assign(r, "q", 1, 1000);
	ck_assert(route_next_send(s, 1000) == 0);		/* first: now */
	route_sent(s, 1000);
	route_assign(r, "q", 2, 2000);
	ck_assert(route_next_send(s, 2000) == 6000);
	ck_assert(route_next_send(s, 6000) == 0);
	s->inflight = 1;
	ck_assert(route_next_send(s, 7000) == INT64_MAX);
	route_free(r);
}
END_TEST

/* The index behind the route (strset): insertion order, lookups across
 * table growth, clear and reuse. */
START_TEST(route_strset)
{
	struct strset st;
	char k[32];
	size_t pos;
	int i;

	memset(&st, 0, sizeof(st));
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "q.%d", i);
		ck_assert_int_eq(strset_add(&st, k, &pos), 1);
		ck_assert_int_eq((int)pos, i);
	}
	ck_assert_int_eq(strset_add(&st, "q.500", &pos), 0);
	ck_assert_int_eq((int)pos, 500);
	for (i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "q.%d", i);
		ck_assert_int_eq(strset_find(&st, k), i);
		ck_assert_str_eq(st.keys[i], k);
	}
	ck_assert_int_eq(strset_find(&st, "q.1000"), -1);
	strset_clear(&st);
	ck_assert_int_eq(strset_find(&st, "q.1"), -1);
	ck_assert_int_eq(strset_add(&st, "q.1", &pos), 1);
	ck_assert_int_eq((int)pos, 0);
	/* Longer than the buffer kept at that position. */
	ck_assert_int_eq(strset_add(&st, "a.much.longer.queue.name", &pos), 1);
	ck_assert_int_eq((int)pos, 1);
	ck_assert_int_eq(strset_find(&st, "a.much.longer.queue.name"), 1);
	ck_assert_int_eq(strset_find(&st, "q.1"), 0);
	ck_assert_int_eq(strset_find_h(&st, "q.1", strset_hash("q.1")), 0);
	strset_free(&st);
	ck_assert_int_eq(strset_find(&st, "q.1"), -1);
}
END_TEST

/* Subscribers to "*" and to named queues, a queue named twice, many
 * queues per batch: each subscriber gets each queue once, in the order
 * assigned, with the latest count. */
START_TEST(route_index_many)
{
	struct route *r = route_new();
	struct nsub **v = calloc(3, sizeof(*v));
	char q[32];
	int i;

	v[0] = mksub("all", CODEQ_SUB_FANOUT, "", 0, "*", NULL);
	v[1] = mksub("one", CODEQ_SUB_FANOUT, "", 0, "q.7", "q.7");
	v[2] = mksub("grp", CODEQ_SUB_GROUP, "g", 0, "q.7", "*");
	route_replace(r, v, 3);
	ck_assert_int_eq(route_wants(r, "anything"), 1);
	for (i = 0; i < 300; i++) {
		snprintf(q, sizeof(q), "q.%d", i);
		ck_assert_int_eq(route_assign(r, q, 1, 1000),
		    i == 7 ? 3 : 2);
	}
	ck_assert_int_eq(route_assign(r, "q.7", 5, 2000), 3);
	ck_assert_int_eq(find(r, "all")->npending, 300);
	ck_assert_int_eq(find(r, "one")->npending, 1);
	ck_assert_int_eq(find(r, "grp")->npending, 300);
	ck_assert_str_eq(find(r, "all")->pending[299].queue, "q.299");
	ck_assert_int_eq(find(r, "all")->pending[7].ready, 5);
	ck_assert_int_eq(find(r, "one")->pending[0].ready, 5);
	ck_assert_ptr_eq(route_find(r, "one"), find(r, "one"));
	ck_assert_ptr_null(route_find(r, "none"));
	route_sent(find(r, "all"), 3000);
	ck_assert_int_eq(find(r, "all")->npending, 0);
	ck_assert_int_eq(route_assign(r, "q.1", 2, 3000), 2);
	ck_assert_int_eq(find(r, "all")->npending, 1);
	route_free(r);
}
END_TEST

static struct cb_item *
mkitem(int64_t n, const char *status, const char *result, const char *tp)
{
	struct cb_item *it = calloc(1, sizeof(*it));
	char id[32];

	snprintf(id, sizeof(id), "q:%lld", (long long)n);
	it->queue = strdup("q");
	it->n = n;
	it->task_id = strdup(id);
	it->url = strdup("http://example.com/");
	it->status = strdup(status);
	it->result = strdup(result);
	it->error = strdup(strcmp(status, "completed") ? "boom" : "");
	it->attempts = 2;
	it->completed_at = 1795000000123;
	it->traceparent = strdup(tp);
	return it;
}

START_TEST(callback_bodies)
{
	struct cb_item *v[3];
	char id[64], id2[64];
	size_t len;
	char *b;

	v[0] = mkitem(7, "completed", "{\"x\":1}", "00-ab-cd-01");
	v[1] = mkitem(8, "failed", "", "");
	v[2] = mkitem(9, "dead", "not json", "");
	b = cb_body(v, 1, &len, id, sizeof(id));
	ck_assert_str_eq(id, "cb_q_7");
	ck_assert_str_eq(b, "{\"webhookId\":\"cb_q_7\",\"taskId\":\"q:7\","
	    "\"queue\":\"q\",\"eventType\":\"TASK_COMPLETED\",\"status\":"
	    "\"COMPLETED\",\"result\":{\"x\":1},\"error\":null,\"attempts\":2,"
	    "\"completedAt\":\"2026-11-18T11:06:40.123Z\",\"traceparent\":"
	    "\"00-ab-cd-01\"}");
	ck_assert_uint_eq(len, strlen(b));
	free(b);
	b = cb_body(v, 3, &len, id, sizeof(id));
	ck_assert_ptr_nonnull(strstr(b, "\"eventType\":\"TASK_RESULTS\",\"count\":3"));
	ck_assert_ptr_nonnull(strstr(b, "\"eventType\":\"TASK_FAILED\",\"status\":\"FAILED\",\"result\":null,\"error\":\"boom\""));
	ck_assert_ptr_nonnull(strstr(b, "\"eventType\":\"TASK_DEAD_LETTERED\",\"status\":\"DEAD\",\"result\":\"not json\""));
	ck_assert_int_eq(strncmp(id, "cbb_", 4), 0);
	free(b);
	/* The same batch keeps its id; another composition gets another. */
	b = cb_body(v, 3, &len, id2, sizeof(id2));
	ck_assert_str_eq(id, id2);
	free(b);
	b = cb_body(v, 2, &len, id2, sizeof(id2));
	ck_assert_str_ne(id, id2);
	free(b);
	/* The store's id, when the item has one, is its webhook-id, in the
	 * header and in the batch body. */
	v[1]->wid = strdup("cb_5f3a9c_8");
	b = cb_body(v + 1, 1, &len, id2, sizeof(id2));
	ck_assert_str_eq(id2, "cb_5f3a9c_8");
	ck_assert_int_eq(strncmp(b, "{\"webhookId\":\"cb_5f3a9c_8\"", 26), 0);
	free(b);
	b = cb_body(v, 2, &len, id2, sizeof(id2));
	ck_assert_ptr_nonnull(strstr(b, "{\"webhookId\":\"cb_5f3a9c_8\",\"taskId\":\"q:8\""));
	free(b);
	for (int i = 0; i < 3; i++)
		cb_item_free(v[i]);
}
END_TEST

/* Error texts are whatever a handler wrote (a stderr tail may be cut in
 * the middle of a character): invalid UTF-8 must not lose the item from
 * its batch, nor make its body impossible to build. */
START_TEST(callback_bodies_invalid_utf8)
{
	struct cb_item *v[2];
	char id[64];
	size_t len;
	char *b;

	v[0] = mkitem(1, "failed", "", "");
	v[1] = mkitem(2, "dead", "", "00-\xff");
	free(v[0]->error);
	v[0]->error = strdup("bad \xe2\x82 tail \xff");
	b = cb_body(v, 1, &len, id, sizeof(id));
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(strstr(b, "\"error\":\"bad \xef\xbf\xbd"
	    "\xef\xbf\xbd tail \xef\xbf\xbd\""));
	free(b);
	b = cb_body(v, 2, &len, id, sizeof(id));
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(strstr(b, "\"count\":2"));
	ck_assert_ptr_nonnull(strstr(b, "\"taskId\":\"q:1\""));
	ck_assert_ptr_nonnull(strstr(b, "\"taskId\":\"q:2\""));
	free(b);
	cb_item_free(v[0]);
	cb_item_free(v[1]);
}
END_TEST

/* cb_body writes JSON by hand: it must give what jansson gave (the
 * former implementation, kept here as the reference) byte for byte. */
static json_t *
ref_payload(const struct cb_item *it)
{
	char id[200], at[40], up[16];
	json_t *o, *result = NULL;
	size_t i;

	cb_item_id(it, id, sizeof(id));
	format_rfc3339_ms(it->completed_at, at, sizeof(at));
	for (i = 0; it->status[i] && i + 1 < sizeof(up); i++)
		up[i] = (char)(it->status[i] >= 'a' && it->status[i] <= 'z' ?
		    it->status[i] - 32 : it->status[i]);
	up[i] = '\0';
	if (it->result && *it->result) {
		result = json_loads(it->result, JSON_DECODE_ANY, NULL);
		if (result == NULL)
			result = json_string_lossy(it->result);
	}
	o = json_pack("{s:o, s:o, s:s, s:s, s:s, s:o, s:o, s:i, s:s}",
	    "webhookId", json_string_lossy(id),
	    "taskId", json_string_lossy(it->task_id), "queue", it->queue,
	    "eventType", strcmp(it->status, "completed") == 0 ?
	    "TASK_COMPLETED" : strcmp(it->status, "dead") == 0 ?
	    "TASK_DEAD_LETTERED" : "TASK_FAILED", "status", up,
	    "result", result ? result : json_null(),
	    "error", it->error && *it->error ? json_string_lossy(it->error) :
	    json_null(),
	    "attempts", it->attempts, "completedAt", at);
	if (o && it->traceparent && *it->traceparent)
		json_object_set_new(o, "traceparent",
		    json_string_lossy(it->traceparent));
	return o;
}

static char *
ref_body(struct cb_item *const *items, size_t n)
{
	json_t *root, *arr;
	char *s;
	size_t i;

	if (n == 1)
		root = ref_payload(items[0]);
	else {
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, ref_payload(items[i]));
		root = json_pack("{s:s, s:I, s:o}", "eventType", "TASK_RESULTS",
		    "count", (json_int_t)n, "results", arr);
	}
	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

START_TEST(callback_bodies_match_jansson)
{
	static const char *const texts[] = {
		"", "plain", "q\"uo\\te/slash", "tab\tnl\ncr\rbs\bff\f",
		"\x01\x02\x1f\x7f end", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
		"bad \xe2\x82 tail \xff", "\xed\xa0\x80 surrogate",
		"\xc0\xaf overlong", "\xf4\x90\x80\x80 too big", "\xe2\x80\xa8 ls",
	};
	static const char *const results[] = {
		"", "null", "true", "42", "-1.5e3", "\"s\\u00e9\\n\"",
		"{\"a\":[1,2,{\"b\":null}],\"c\":\"\\u0001\"}", "[ 1 , 2 ]",
		"{\"k\":1,\"k\":2}", "not json", "{\"x\":", "caf\xc3\xa9",
		"\xff raw", "  {\"sp\" : true}  ",
	};
	static const char *const statuses[] = { "completed", "failed",
	    "dead" };
	struct cb_item *v[64];
	size_t nt = sizeof(texts) / sizeof(texts[0]);
	size_t nr = sizeof(results) / sizeof(results[0]), n = 0, len, i;
	char id[64], *got, *want;

	for (i = 0; i < 64; i++) {
		v[i] = mkitem((int64_t)i + 1, statuses[i % 3],
		    results[i % nr], texts[(i + 3) % nt]);
		free(v[i]->error);
		v[i]->error = strdup(texts[i % nt]);
		free(v[i]->task_id);
		v[i]->task_id = strdup(texts[(i + 5) % nt]);
		v[i]->attempts = (int)i * 7 - 3;
		v[i]->completed_at = 1795000000123LL + (int64_t)i * 86400999;
	}
	for (i = 0; i < 64; i++) {
		got = cb_body(v + i, 1, &len, id, sizeof(id));
		want = ref_body(v + i, 1);
		ck_assert_ptr_nonnull(got);
		ck_assert_ptr_nonnull(want);
		ck_assert_str_eq(got, want);
		ck_assert_uint_eq(len, strlen(want));
		free(got);
		free(want);
	}
	for (n = 2; n <= 64; n += 31) {
		got = cb_body(v, n, &len, id, sizeof(id));
		want = ref_body(v, n);
		ck_assert_str_eq(got, want);
		ck_assert_uint_eq(len, strlen(want));
		free(got);
		free(want);
	}
	for (i = 0; i < 64; i++)
		cb_item_free(v[i]);
}
END_TEST

START_TEST(callback_backoff)
{
	/* base 2 s, max 60 s: 2, 4, 8, 16, 32, 60, 60 s (no jitter at 0.5). */
	static const int64_t want[] = { 2000, 4000, 8000, 16000, 32000,
	    60000, 60000 };

	for (int k = 1; k <= 7; k++)
		ck_assert_int_eq(cb_backoff(k, 2000, 60000, -1, 0.5),
		    want[k - 1]);
	/* Jitter: +/- 20 %. */
	ck_assert_int_eq(cb_backoff(1, 2000, 60000, -1, 0.0), 1600);
	ck_assert_int_ge(cb_backoff(1, 2000, 60000, -1, 0.999), 2390);
	/* Retry-After wins, capped at one hour. */
	ck_assert_int_eq(cb_backoff(1, 2000, 60000, 7000, 0.5), 7000);
	ck_assert_int_eq(cb_backoff(3, 2000, 60000, 0, 0.5), 0);
	ck_assert_int_eq(cb_backoff(1, 2000, 60000, 86400000, 0.5), 3600000);
}
END_TEST

/* A dead store is retried less and less often (0.5 s doubling to 8 s):
 * each try may block the loop for the connect timeout. */
START_TEST(store_retry_backoff)
{
	static const int64_t want[] = { 500, 1000, 2000, 4000, 8000, 8000 };
	struct codeq_config cfg;
	struct wh_store s;
	size_t i;

	config_defaults(&cfg);
	free(cfg.store.url);
	cfg.store.url = strdup("redis://127.0.0.1:1");	/* refused at once */
	cfg.store.connect_timeout_ms = 1000;
	wh_store_init(&s, &cfg, "callbacks");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_int_eq(wh_store_ready(&s), -1);
		ck_assert_int_eq(s.down, 1);
		ck_assert_int_eq(s.backoff_ms, want[i]);
		ck_assert(s.wait_until > wh_now_ms());
		/* Within the wait nothing is tried. */
		ck_assert_int_eq(wh_store_ready(&s), -1);
		ck_assert_int_eq(s.backoff_ms, want[i]);
		s.wait_until = 0;	/* as if the wait were over */
	}
	wh_store_ok(&s);
	ck_assert_int_eq(s.down, 0);
	ck_assert_int_eq(s.backoff_ms, 0);
	wh_store_close(&s);
	config_free(&cfg);
}
END_TEST

static Suite *
suite(void)
{
	Suite *s = suite_create("webhooks");
	TCase *tc = tcase_create("unit");

	tcase_add_test(tc, sign_standard_vector);
	tcase_add_test(tc, sign_codeq_vector);
	tcase_add_test(tc, sign_key_errors);
	tcase_add_test(tc, base64_roundtrip);
	tcase_add_test(tc, url_policy_agrees_with_curl);
	tcase_add_test(tc, address_classes);
	tcase_add_test(tc, address_policy);
	tcase_add_test(tc, http_verdicts);
	tcase_add_test(tc, route_fanout_batches);
	tcase_add_test(tc, route_group_round_robin);
	tcase_add_test(tc, route_hash_deterministic);
	tcase_add_test(tc, route_min_interval);
	tcase_add_test(tc, route_strset);
	tcase_add_test(tc, route_index_many);
	tcase_add_test(tc, callback_bodies);
	tcase_add_test(tc, callback_bodies_invalid_utf8);
	tcase_add_test(tc, callback_bodies_match_jansson);
	tcase_add_test(tc, callback_backoff);
	tcase_add_test(tc, store_retry_backoff);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
