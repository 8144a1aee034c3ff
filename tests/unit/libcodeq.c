/*
 * tests/unit/libcodeq.c - unit tests of libcodeq's pure parts: the store URL
 * parser, the webhook URL check, task ids, queue names, the key
 * builders, the embedded script registry.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "codeq.h"
#include "keys.h"
#include "scripts.h"
#include "store.h"
#include "task.h"
#include "url.h"
#include "urlpolicy.h"
#include "utf8.h"

START_TEST(url_good)
{
	struct store_url u;
	codeq_error e;

	ck_assert_int_eq(store_url_parse("redis://127.0.0.1:6380/3", &u, &e),
	    CODEQ_OK);
	ck_assert_str_eq(u.host, "127.0.0.1");
	ck_assert_int_eq(u.port, 6380);
	ck_assert_int_eq(u.db, 3);
	ck_assert_str_eq(u.password, "");
	ck_assert_int_eq(store_url_parse("redis://kv.example.org", &u, &e),
	    CODEQ_OK);
	ck_assert_str_eq(u.host, "kv.example.org");
	ck_assert_int_eq(u.port, 6379);
	ck_assert_int_eq(u.db, 0);
	ck_assert_int_eq(store_url_parse("redis://:s%40cr%3At@h:1/", &u, &e),
	    CODEQ_OK);
	ck_assert_str_eq(u.password, "s@cr:t");
	ck_assert_str_eq(u.host, "h");
	ck_assert_int_eq(u.port, 1);
	ck_assert_int_eq(store_url_parse("redis://:p@ss@h", &u, &e), CODEQ_OK);
	ck_assert_str_eq(u.password, "p@ss");
	ck_assert_int_eq(store_url_parse("redis://default:pw@[::1]:7000/1", &u,
	    &e), CODEQ_OK);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_int_eq(u.port, 7000);
	ck_assert_int_eq(u.db, 1);
	ck_assert_str_eq(u.password, "pw");
	ck_assert_str_eq(u.user, "");
	ck_assert_str_eq(u.where, "[::1]:7000");
	/* Redis 6 ACL users; a user alone takes its password from a file. */
	ck_assert_int_eq(store_url_parse("redis://app%40x:s3cr%3At@h:6390", &u,
	    &e), CODEQ_OK);
	ck_assert_str_eq(u.user, "app@x");
	ck_assert_str_eq(u.password, "s3cr:t");
	ck_assert_str_eq(u.where, "h:6390");
	ck_assert_int_eq(store_url_parse("redis://app@h", &u, &e), CODEQ_OK);
	ck_assert_str_eq(u.user, "app");
	ck_assert_str_eq(u.password, "");
	/* Unix sockets, both spellings; db and password in the query. */
	ck_assert_int_eq(store_url_parse("unix:///run/kvrocks.sock", &u, &e),
	    CODEQ_OK);
	ck_assert_str_eq(u.path, "/run/kvrocks.sock");
	ck_assert_str_eq(u.where, "/run/kvrocks.sock");
	ck_assert_int_eq(u.port, 0);
	ck_assert_int_eq(u.db, 0);
	ck_assert_int_eq(store_url_parse("redis+unix://app:pw@/tmp/r.sock?db=2",
	    &u, &e), CODEQ_OK);
	ck_assert_str_eq(u.path, "/tmp/r.sock");
	ck_assert_str_eq(u.user, "app");
	ck_assert_str_eq(u.password, "pw");
	ck_assert_int_eq(u.db, 2);
	ck_assert_int_eq(store_url_parse("unix:///tmp/r.sock?password=a%26b&db=1",
	    &u, &e), CODEQ_OK);
	ck_assert_str_eq(u.password, "a&b");
	ck_assert_int_eq(u.db, 1);
}
END_TEST

START_TEST(url_bad)
{
	static const struct { const char *url, *msg; } t[] = {
		{ "http://h:1", "must start with redis://" },
		{ "redis://", "host is empty" },
		{ "redis://:pw@", "host is empty" },
		{ "redis://h:0", "port must be 1-65535, got '0'" },
		{ "redis://h:99999", "port must be 1-65535" },
		{ "redis://h:", "port must be 1-65535, got ''" },
		{ "redis://h/db", "database must be a number" },
		{ "redis://h/-1", "database must be a number" },
		{ "unix://", "needs an absolute path" },
		{ "unix://host/tmp/s", "has no host" },
		{ "unix:///", "socket path must be 2-107" },
		{ "unix:///tmp/s?db=x", "database must be a number" },
		{ "unix:///tmp/s?timeout=1", "unknown parameter 'timeout'" },
		{ "redis+unix://:%zz@/tmp/s", "bad %-escape in the password" },
		{ "redis://b%g@h", "bad %-escape in the user" },
		{ "tcp://h:1", "must start with redis://, unix://" },
		{ "redis://[::1:5", "missing ']'" },
		{ "redis://[::1]x", "expected ':port'" },
		{ "redis://h h", "bad character ' '" },
		{ "redis://:%4@h", "bad %-escape" },
		{ "redis://h?timeout=1", "query strings" },
	};
	struct store_url u;
	codeq_error e;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_msg(store_url_parse(t[i].url, &u, &e) == CODEQ_EINVAL,
		    "accepted %s", t[i].url);
		ck_assert_msg(strstr(e.msg, t[i].msg) != NULL,
		    "%s: got '%s', want '%s'", t[i].url, e.msg, t[i].msg);
		ck_assert_msg(strncmp(e.msg, "store URL: ", 11) == 0, "%s", e.msg);
	}
	/* The password never appears in a message. */
	ck_assert_int_eq(store_url_parse("redis://:hunter2@h:0", &u, &e),
	    CODEQ_EINVAL);
	ck_assert_ptr_null(strstr(e.msg, "hunter2"));
}
END_TEST

START_TEST(webhook_url_validation)
{
	char err[256], big[URLPOLICY_URL_MAX + 64];

	ck_assert_int_eq(urlpolicy_validate("http://example.com/hook", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(urlpolicy_validate("https://127.0.0.1:8080/x?y=1",
	    err, sizeof(err)), 0);
	ck_assert_int_eq(urlpolicy_validate("https://[::1]:8080/", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(urlpolicy_validate("ftp://example.com/", err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "scheme"));
	ck_assert_int_eq(urlpolicy_validate("example.com/hook", err,
	    sizeof(err)), -1);
	ck_assert_int_eq(urlpolicy_validate("http://", err, sizeof(err)), -1);
	ck_assert_int_eq(urlpolicy_validate("http:///path", err, sizeof(err)),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "no host"));
	/* Another URL in the query does not make the target hostless. */
	ck_assert_int_eq(urlpolicy_validate("https://example.com/r?u=file:///x",
	    err, sizeof(err)), 0);
	ck_assert_int_eq(urlpolicy_validate("http://a b/", err, sizeof(err)),
	    -1);
	ck_assert_int_eq(urlpolicy_validate("", err, sizeof(err)), -1);
	ck_assert_int_eq(urlpolicy_validate(NULL, err, sizeof(err)), -1);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "http://x/", 9);
	ck_assert_int_eq(urlpolicy_validate(big, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer"));
}
END_TEST

/* Each case: a URL, and NULL when it is accepted or a piece of the
 * reason it is refused. */
struct url_case {
	const char *url;
	const char *why;
};

static void
check_cases(const struct url_case *cases, size_t n)
{
	char err[256];

	for (size_t i = 0; i < n; i++) {
		int rc = urlpolicy_validate(cases[i].url, err, sizeof(err));

		if (cases[i].why == NULL)
			ck_assert_msg(rc == 0, "%s: refused: %s", cases[i].url,
			    err);
		else
			ck_assert_msg(rc == -1 && strstr(err, cases[i].why),
			    "%s: rc %d, '%s', expected '%s'", cases[i].url, rc,
			    rc ? err : "", cases[i].why);
	}
}

START_TEST(webhook_url_schemes)
{
	static const struct url_case c[] = {
		{ "HTTP://example.com/", NULL },
		{ "hTTpS://example.com/", NULL },
		{ "ftp://example.com/", "scheme must be http or https" },
		{ "httpx://example.com/", "scheme must be http or https" },
		{ "htt://example.com/", "scheme must be http or https" },
		{ "://example.com/", "scheme must be http or https" },
		{ "example.com:80/x", "scheme must be http or https" },
		{ "/relative/path", "scheme must be http or https" },
		{ "http", "scheme must be http or https" },
		{ "http:", "followed by \"//\"" },
		{ "http:example.com", "followed by \"//\"" },
		/* libcurl takes one slash, and a backslash nowhere here */
		{ "http:/example.com/", "followed by \"//\"" },
		{ "http:\\\\example.com/", "followed by \"//\"" },
		{ "http://", "URL is not valid: it ends after the scheme" },
		{ "https://", "URL is not valid: " },
		{ "http:///x", "URL has no host" },
		{ "http:////x", "URL has no host" },
		{ "http://?q", "URL has no host" },
		{ "http://#f", "URL has no host" },
	};

	check_cases(c, sizeof(c) / sizeof(c[0]));
}
END_TEST

START_TEST(webhook_url_hosts)
{
	static const struct url_case c[] = {
		{ "http://a/", NULL },
		{ "http://a-b_c~d.example/", NULL },
		{ "http://example.com./", NULL },	/* a rooted name */
		{ "http://xn--bcher-kva.example/", NULL },
		{ "http://1.2.3.4/", NULL },
		{ "http://255.255.255.255:1/", NULL },
		{ "http://1.2.3.4a/", NULL },		/* a name */
		{ "http://0x/", NULL },			/* a name too */
		{ "http://example..com/", "empty label" },
		{ "http://.example.com/", "empty label" },
		{ "http://example.com../", "empty label" },
		{ "http://./", "empty label" },
		{ "http://b\xc3\xbc" "cher.example/", "xn-- form" },
		{ "http://a%41.example/", "only letters, digits" },
		{ "http://a!b/", "only letters, digits" },
		{ "http://a|b/", "only letters, digits" },
		{ "http://x]/", "only letters, digits" },
		{ "http://127.1/", "IPv4 address a.b.c.d" },
		{ "http://2130706433/", "IPv4 address a.b.c.d" },
		{ "http://0x7f.0.0.1/", "IPv4 address a.b.c.d" },
		{ "http://a.0x7f/", "IPv4 address a.b.c.d" },
		{ "http://010.0.0.1/", "IPv4 address a.b.c.d" },
		{ "http://256.1.1.1/", "IPv4 address a.b.c.d" },
		{ "http://1.2.3.4.5/", "IPv4 address a.b.c.d" },
		{ "http://1.2.3.4./", "IPv4 address a.b.c.d" },
		{ "http://example.0/", "IPv4 address a.b.c.d" },
	};

	check_cases(c, sizeof(c) / sizeof(c[0]));
}
END_TEST

START_TEST(webhook_url_ipv6)
{
	static const struct url_case c[] = {
		{ "http://[::1]/", NULL },
		{ "http://[::]/", NULL },
		{ "http://[2001:DB8::a:1]:443/x", NULL },
		{ "http://[::ffff:192.0.2.1]/", NULL },
		{ "http://[fe80::1%25eth0]/", NULL },	/* RFC 6874 zone */
		{ "http://[fe80::1%25en0]:8080/", NULL },
		{ "http://[fe80::1%eth0]/", "bad IPv6 address" },
		{ "http://[fe80::1%25]/", "bad IPv6 address" },
		{ "http://[fe80::1%25e%41]/", "bad IPv6 address" },
		{ "http://[::1/", "bad IPv6 address" },
		{ "http://[]/", "bad IPv6 address" },
		{ "http://[1.2.3.4]/", "bad IPv6 address" },
		{ "http://[v1.fe]/", "bad IPv6 address" },
		{ "http://[::g]/", "bad IPv6 address" },
		{ "http://[1:2:3:4:5:6:7:8:9]/", "bad IPv6 address" },
		{ "http://[0000:0000:0000:0000:0000:0000:0000:0000:1]/",
		    "bad IPv6 address" },
		{ "http://[::1]x/", "port must be" },
		{ "http://[::1]]/", "port must be" },
		{ "http://::1/", "URL has no host" },
	};

	check_cases(c, sizeof(c) / sizeof(c[0]));
}
END_TEST

START_TEST(webhook_url_ports)
{
	static const struct url_case c[] = {
		{ "http://h:1/", NULL },
		{ "http://h:65535/", NULL },
		{ "http://h:08080/", NULL },
		{ "http://h:/", NULL },			/* the default */
		{ "http://[::1]:/", NULL },
		{ "http://h:0/", "port must be a number from 1 to 65535" },
		{ "http://h:00000/", "port must be" },
		{ "http://h:65536/", "port must be" },
		{ "http://h:99999/", "port must be" },
		{ "http://h:000080/", "port must be" },
		{ "http://h:4294967377/", "port must be" },
		{ "http://h:-1/", "port must be" },
		{ "http://h:+1/", "port must be" },
		{ "http://h:8a/", "port must be" },
		{ "http://h:1:2/", "port must be" },
		{ "http://:80/", "URL has no host" },
	};

	check_cases(c, sizeof(c) / sizeof(c[0]));
}
END_TEST

START_TEST(webhook_url_userinfo)
{
	static const struct url_case c[] = {
		{ "http://u@h/", NULL },
		{ "http://u:p@h:8/", NULL },
		{ "http://@h/", NULL },
		{ "http://:@h/", NULL },
		{ "http://u:p:q@h/", NULL },
		{ "http://u%40x:p%3A@h/", NULL },
		{ "http://u!$&'()*+,;=-._~@h/", NULL },
		{ "http://u@[::1]:9/", NULL },
		{ "http://u%zz@h/", "bad %-escape in the user info" },
		{ "http://u%4@h/", "bad %-escape" },
		{ "http://u%@h/", "bad %-escape" },
		{ "http://u@x@h/", "bad character in the user info" },
		{ "http://u[@h/", "bad character in the user info" },
		{ "http://\xc3\xa9@h/", "bad character in the user info" },
		{ "http://u:p@/", "URL has no host" },
		{ "http://u:p@:80/", "URL has no host" },
		/* "@" after the authority is the path's or the query's */
		{ "http://h/@x", NULL },
		{ "http://h?@x", NULL },
		{ "http://h#@x", NULL },
	};
	struct urlpolicy_parts p;
	char err[128];

	check_cases(c, sizeof(c) / sizeof(c[0]));
	/* The message never quotes the user info: it holds a password. */
	ck_assert_int_eq(urlpolicy_validate("http://u:s3cr%zz@h/", err,
	    sizeof(err)), -1);
	ck_assert_ptr_null(strstr(err, "s3cr"));
	ck_assert_int_eq(urlpolicy_parse("http://u:p@h/", &p, err,
	    sizeof(err)), 0);
	ck_assert_int_eq((int)p.userinfo_len, 3);
	ck_assert_int_eq(strncmp(p.userinfo, "u:p", 3), 0);
}
END_TEST

/* The path, query and fragment are sent as they are written. */
START_TEST(webhook_url_rest)
{
	static const struct url_case c[] = {
		{ "http://h", NULL },
		{ "http://h?", NULL },
		{ "http://h#", NULL },
		{ "http://h/a%2", NULL },
		{ "http://h/%zz?%", NULL },
		{ "http://h/a{b}|c\\d\"e<f>^`", NULL },
		{ "http://h/\xc3\xa9?q=\xc3\xa9", NULL },
		{ "http://h/x#frag#more", NULL },
		{ "http://h/a b", "blank or a control character" },
		{ "http://h/a\tb", "blank or a control character" },
		{ "http://h/a\x7f", "blank or a control character" },
		{ "http://h/a\r\nHost: evil", "blank or a control character" },
	};

	check_cases(c, sizeof(c) / sizeof(c[0]));
}
END_TEST

START_TEST(webhook_url_parts)
{
	struct urlpolicy_parts p;
	char err[128];

	ck_assert_int_eq(urlpolicy_parse("HTTPS://u@[::1%25lo]:8443/x?y#z",
	    &p, err, sizeof(err)), 0);
	ck_assert_int_eq((int)p.scheme_len, 5);
	ck_assert_int_eq(strncmp(p.scheme, "HTTPS", 5), 0);
	ck_assert_int_eq((int)p.host_len, 10);
	ck_assert_int_eq(strncmp(p.host, "[::1%25lo]", 10), 0);
	ck_assert_int_eq(p.port, 8443);
	ck_assert_str_eq(p.rest, "/x?y#z");
	ck_assert_int_eq(urlpolicy_parse("http://h", &p, err, sizeof(err)), 0);
	ck_assert_ptr_null(p.userinfo);
	ck_assert_int_eq(p.port, 0);
	ck_assert_str_eq(p.rest, "");
}
END_TEST

/* A buffer of n bytes of ch after prefix, closed by suffix, in its
 * own exact-size allocation. */
static char *
filled(const char *prefix, int ch, size_t n, const char *suffix)
{
	size_t a = strlen(prefix), b = strlen(suffix);
	char *s = malloc(a + n + b + 1);

	ck_assert_ptr_nonnull(s);
	memcpy(s, prefix, a);
	memset(s + a, ch, n);
	memcpy(s + a + n, suffix, b + 1);
	return s;
}

static int
validate_free(char *url, char *err, size_t errlen)
{
	int rc = urlpolicy_validate(url, err, errlen);

	free(url);
	return rc;
}

START_TEST(webhook_url_sizes)
{
	char err[256];
	char *label63 = filled("", 'a', 63, "");

	ck_assert_int_eq(validate_free(filled("http://", 'a', 63, "/"), err,
	    sizeof(err)), 0);
	ck_assert_int_eq(validate_free(filled("http://", 'a', 64, "/"), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than 63"));
	/* 4 labels of 63 and a dot each: 255 with the final dot. */
	{
		char host[300];

		snprintf(host, sizeof(host), "http://%s.%s.%s.%.61s/", label63,
		    label63, label63, label63);
		ck_assert_int_eq(urlpolicy_validate(host, err, sizeof(err)),
		    0);		/* 253 */
		snprintf(host, sizeof(host), "http://%s.%s.%s.%.61s./",
		    label63, label63, label63, label63);
		ck_assert_int_eq(urlpolicy_validate(host, err, sizeof(err)),
		    0);		/* 253 and the root's dot */
		snprintf(host, sizeof(host), "http://%s.%s.%s.%.62s/", label63,
		    label63, label63, label63);
		ck_assert_int_eq(urlpolicy_validate(host, err, sizeof(err)),
		    -1);	/* 254 */
		ck_assert_ptr_nonnull(strstr(err, "longer than 253"));
	}
	free(label63);
	/* The bound is on the whole URL, at exactly 2048. */
	ck_assert_int_eq(validate_free(filled("http://h/", 'p',
	    URLPOLICY_URL_MAX - 9, ""), err, sizeof(err)), 0);
	ck_assert_int_eq(validate_free(filled("http://h/", 'p',
	    URLPOLICY_URL_MAX - 8, ""), err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "longer than 2048"));
	ck_assert_int_eq(validate_free(filled("http://[", ':', 2000, "]/"),
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad IPv6"));
	ck_assert_int_eq(validate_free(filled("http://h:", '1', 2000, "/"),
	    err, sizeof(err)), -1);
	ck_assert_int_eq(validate_free(filled("http://", '@', 2000, "h/"),
	    err, sizeof(err)), -1);
	ck_assert_int_eq(validate_free(filled("http://", '.', 2000, ""),
	    err, sizeof(err)), -1);
	/* A short buffer for the reason cuts it, and none is allowed. */
	ck_assert_int_eq(urlpolicy_validate("ftp://x", err, 4), -1);
	ck_assert_str_eq(err, "URL");
	ck_assert_int_eq(urlpolicy_validate("ftp://x", NULL, 0), -1);
}
END_TEST

/* Every prefix of these, each in an allocation of its own size, so
 * that a read past the terminating NUL is caught under ASan. */
START_TEST(webhook_url_prefixes)
{
	static const char *const urls[] = {
		"https://u:p%41@[fe80::1%25eth0]:8443/p?q#f",
		"http://a.b.example.:65535?x",
		"http://1.2.3.4:80/",
		"http://[::ffff:1.2.3.4]:",
		"http://u@x@[",
	};
	char err[256];

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		for (size_t n = 0; n <= strlen(urls[i]); n++) {
			char *s = malloc(n + 1);

			ck_assert_ptr_nonnull(s);
			memcpy(s, urls[i], n);
			s[n] = '\0';
			(void)validate_free(s, err, sizeof(err));
		}
}
END_TEST

START_TEST(ids_and_queues)
{
	char q[CODEQ_ID_MAX], key[TASK_KEY_MAX];
	codeq_error e;

	ck_assert_int_eq(task_id_split("emails:42", q, sizeof(q), key,
	    sizeof(key), &e), CODEQ_OK);
	ck_assert_str_eq(q, "emails");
	ck_assert_str_eq(key, "codeq:{emails}:t:42");
	ck_assert_int_eq(task_id_split("a.b-c_d:1", q, sizeof(q), key,
	    sizeof(key), &e), CODEQ_OK);
	ck_assert_int_eq(task_id_split("emails", q, sizeof(q), key,
	    sizeof(key), &e), CODEQ_EINVAL);
	ck_assert_str_eq(e.msg, "id: must be QUEUE:NUMBER, got 'emails'");
	ck_assert_int_eq(task_id_split("emails:4x", q, sizeof(q), key,
	    sizeof(key), &e), CODEQ_EINVAL);
	ck_assert_int_eq(task_id_split(":4", q, sizeof(q), key,
	    sizeof(key), &e), CODEQ_EINVAL);
	ck_assert_int_eq(task_id_split("a{b}:4", q, sizeof(q), key,
	    sizeof(key), &e), CODEQ_EINVAL);
	ck_assert(codeq_queue_name_valid("q"));
	ck_assert(!codeq_queue_name_valid(""));
	ck_assert(!codeq_queue_name_valid("a:b"));
	ck_assert(!codeq_queue_name_valid("a{b}"));
	char longq[102];
	memset(longq, 'a', 101);
	longq[101] = '\0';
	ck_assert(!codeq_queue_name_valid(longq));
	longq[100] = '\0';
	ck_assert(codeq_queue_name_valid(longq));
}
END_TEST

START_TEST(key_builders)
{
	char k[64], q[16], longq[101];

	ck_assert_int_eq(key_queue(k, sizeof(k), "mail", CODEQ_KEY_DELAYED), 0);
	ck_assert_str_eq(k, "codeq:{mail}:delayed");
	ck_assert_int_eq(key_queue(k, sizeof(k), "mail", CODEQ_KEY_OUTBOX), 0);
	ck_assert_str_eq(k, "codeq:{mail}:outbox");
	ck_assert_int_eq(key_ready(k, sizeof(k), "mail", 9), 0);
	ck_assert_str_eq(k, "codeq:{mail}:ready:9");
	ck_assert_int_eq(key_task(k, sizeof(k), "mail", "42"), 0);
	ck_assert_str_eq(k, "codeq:{mail}:t:42");
	ck_assert_int_eq(key_task_pattern(k, sizeof(k), "mail"), 0);
	ck_assert_str_eq(k, "codeq:{mail}:t:*");
	ck_assert_int_eq(key_claim(k, sizeof(k), "mail", "h:12:p"), 0);
	ck_assert_str_eq(k, "codeq:{mail}:claim:h:12:p");
	ck_assert_int_eq(key_cb(k, sizeof(k), "mail", "7"), 0);
	ck_assert_str_eq(k, "codeq:{mail}:cb:7");
	ck_assert_int_eq(key_sub(k, sizeof(k), "s1"), 0);
	ck_assert_str_eq(k, "codeq:sub:s1");
	/* Exactly full fits; one byte short does not. */
	ck_assert_int_eq(key_queue(k, 19, "mail", CODEQ_KEY_STATS), 0);
	ck_assert_str_eq(k, "codeq:{mail}:stats");
	ck_assert_int_eq(key_queue(k, 18, "mail", CODEQ_KEY_STATS), -1);
	memset(longq, 'q', 100);
	longq[100] = '\0';
	ck_assert_int_eq(key_task(k, sizeof(k), longq, "1"), -1);
	/* The keys every queue has, and the SCAN pattern of all of them. */
	ck_assert_int_eq(key_seq_queue("codeq:{mail}:seq", q, sizeof(q)), 0);
	ck_assert_str_eq(q, "mail");
	ck_assert_int_eq(key_seq_queue("codeq:{mail}:dlq", q, sizeof(q)), -1);
	ck_assert_int_eq(key_seq_queue("codeq:{}:seq", q, sizeof(q)), -1);
	ck_assert_int_eq(key_seq_queue("codeq:mail:seq", q, sizeof(q)), -1);
	ck_assert_int_eq(key_seq_queue("codeq:{0123456789abcdef}:seq", q,
	    sizeof(q)), -1);
	ck_assert_int_eq(key_seq_queue("codeq:{0123456789abcde}:seq", q,
	    sizeof(q)), 0);
	ck_assert_int_eq(strncmp("codeq:{mail}:seq", CODEQ_KEY_ANY_QUEUE,
	    strlen(CODEQ_KEY_ANY_QUEUE) - 1), 0);
	ck_assert_str_eq(CODEQ_CH_READY, "codeq:ready");
	ck_assert_str_eq(CODEQ_CH_DELAYED, "codeq:delayed");
}
END_TEST

/* Every script name of keys.h is in the registry, and every script of the
 * registry has its name there; each has a SHA1 as the store names it. */
START_TEST(script_names)
{
	static const char *const names[] = { CODEQ_SCRIPT_ENQUEUE,
	    CODEQ_SCRIPT_CLAIM, CODEQ_SCRIPT_HEARTBEAT, CODEQ_SCRIPT_COMPLETE,
	    CODEQ_SCRIPT_FAIL, CODEQ_SCRIPT_NACK, CODEQ_SCRIPT_RELEASE,
	    CODEQ_SCRIPT_PROMOTE, CODEQ_SCRIPT_REAP, CODEQ_SCRIPT_DLQ_REQUEUE,
	    CODEQ_SCRIPT_DLQ_PURGE, CODEQ_SCRIPT_STATS,
	    CODEQ_SCRIPT_FSCK_REPAIR, CODEQ_SCRIPT_CB_TAKE, CODEQ_SCRIPT_CB_ACK,
	    CODEQ_SCRIPT_CB_RETRY, CODEQ_SCRIPT_CB_DEAD,
	    CODEQ_SCRIPT_CB_DLQ_REPLAY, CODEQ_SCRIPT_CB_DLQ_PURGE };
	size_t i, n = sizeof(names) / sizeof(names[0]);
	const char *sha;

	ck_assert_uint_eq(n, script_ndefs);
	for (i = 0; i < n; i++) {
		ck_assert_msg(script_index(names[i]) >= 0, "%s", names[i]);
		sha = script_sha(script_index(names[i]));
		ck_assert_ptr_nonnull(sha);
		ck_assert_uint_eq(strlen(sha), 40);
		ck_assert_uint_eq(strspn(sha, "0123456789abcdef"), 40);
	}
	ck_assert_ptr_null(script_sha(-1));
	ck_assert_ptr_null(script_sha((int)script_ndefs));
}
END_TEST

START_TEST(script_registry)
{
	static const char *const names[] = { "enqueue", "claim", "heartbeat",
	    "complete", "fail", "nack", "promote", "reap", "dlq_requeue",
	    "dlq_purge", "stats", "fsck_repair" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char header[64];
		const char *src, *own;

		ck_assert_msg(script_index(names[i]) >= 0, "%s", names[i]);
		/* Embedded verbatim after the prelude's helpers it uses:
		 * those first, then the script's own header naming it. */
		src = script_source(names[i]);
		snprintf(header, sizeof(header), "-- %s.lua:", names[i]);
		ck_assert_msg(strncmp(src, "-- prelude.lua", 14) == 0, "%s",
		    names[i]);
		own = strstr(src, header);
		ck_assert_msg(own != NULL, "%s: own text missing", names[i]);
		ck_assert_ptr_null(strstr(own, "local function"));
	}
	/* Only the helpers a script calls, with the ones they call. */
	ck_assert_ptr_nonnull(strstr(script_source("enqueue"),
	    "local function now_ms()"));
	ck_assert_ptr_null(strstr(script_source("enqueue"),
	    "local function outbox_add("));
	ck_assert_ptr_null(strstr(script_source("dlq_purge"),
	    "local function now_ms()"));
	ck_assert_ptr_nonnull(strstr(script_source("dlq_purge"),
	    "local function task_key("));
	/* reap calls dead_letter, which calls outbox_add. */
	ck_assert_ptr_nonnull(strstr(script_source("reap"),
	    "local function outbox_add("));
	ck_assert(strstr(script_source("reap"), "local function outbox_add(") <
	    strstr(script_source("reap"), "local function dead_letter("));
	ck_assert_int_eq(script_index("nope"), -1);
	ck_assert_ptr_null(script_source("nope"));
}
END_TEST

START_TEST(utf8_text)
{
	const char *euro = "ab\xe2\x82\xac";	/* "ab" + U+20AC */
	json_t *j;
	char *s;
	size_t n;

	/* A cut never ends inside a character. */
	ck_assert_uint_eq(utf8_cut(euro, 5), 5);
	ck_assert_uint_eq(utf8_cut(euro, 4), 2);
	ck_assert_uint_eq(utf8_cut(euro, 3), 2);
	ck_assert_uint_eq(utf8_cut(euro, 2), 2);
	ck_assert_uint_eq(utf8_cut("abc", 2), 2);
	/* Invalid bytes become U+FFFD, valid ones stay. */
	s = utf8_clean("a\xff\xe2\x82\xac\xc3", 6, &n);
	ck_assert_str_eq(s, "a\xef\xbf\xbd\xe2\x82\xac\xef\xbf\xbd");
	ck_assert_uint_eq(n, 10);
	free(s);
	/* Overlong and surrogate forms are invalid too. */
	ck_assert_uint_eq(utf8_seq((const unsigned char *)"\xc0\x80", 2), 0);
	ck_assert_uint_eq(utf8_seq((const unsigned char *)"\xed\xa0\x80", 3),
	    0);
	j = json_string_lossy("x\xfey");
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(j), "x\xef\xbf\xbdy");
	json_decref(j);
	ck_assert_ptr_null(json_string_lossy(NULL));
}
END_TEST

START_TEST(strings)
{
	ck_assert_str_eq(codeq_strerror(CODEQ_ESTALE), "stale lease token");
	ck_assert_str_eq(codeq_status_name(CODEQ_DEAD), "dead");
	ck_assert_str_eq(codeq_status_name((codeq_task_status)99), "unknown");
	ck_assert_ptr_nonnull(codeq_version());
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("storage_unit");
	TCase *tc = tcase_create("pure");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, url_good);
	tcase_add_test(tc, url_bad);
	tcase_add_test(tc, webhook_url_validation);
	tcase_add_test(tc, webhook_url_schemes);
	tcase_add_test(tc, webhook_url_hosts);
	tcase_add_test(tc, webhook_url_ipv6);
	tcase_add_test(tc, webhook_url_ports);
	tcase_add_test(tc, webhook_url_userinfo);
	tcase_add_test(tc, webhook_url_rest);
	tcase_add_test(tc, webhook_url_parts);
	tcase_add_test(tc, webhook_url_sizes);
	tcase_add_test(tc, webhook_url_prefixes);
	tcase_add_test(tc, ids_and_queues);
	tcase_add_test(tc, key_builders);
	tcase_add_test(tc, script_names);
	tcase_add_test(tc, script_registry);
	tcase_add_test(tc, strings);
	tcase_add_test(tc, utf8_text);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
