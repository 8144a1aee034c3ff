/* tests/unit/conf.c - the configuration parser: every section and key, the
 * defaults, and each kind of error with its file:line message. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

static char dir[64], path[128];
static char err[512];
static struct codeq_config cfg;

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "%s/unitconf.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/codeq.conf", dir);
	memset(&cfg, 0, sizeof(cfg));
}

static void
teardown(void)
{
	config_free(&cfg);
	unlink(path);
	rmdir(dir);
}

static int
load(const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	return config_load(path, &cfg, err, sizeof(err));
}

/* The text must be refused with "PATH" + suffix. */
#define assert_error(text, suffix) do {					\
	char want_[512];						\
	snprintf(want_, sizeof(want_), "%s%s", path, suffix);		\
	ck_assert_int_eq(load(text), -1);				\
	ck_assert_str_eq(err, want_);					\
} while (0)

START_TEST(defaults)
{
	config_defaults(&cfg);
	ck_assert_str_eq(cfg.store.url, "redis://127.0.0.1:6379/0");
	ck_assert_int_eq(cfg.store.connect_timeout_ms, 2000);
	ck_assert_int_eq(cfg.store.command_timeout_ms, 5000);
	ck_assert_uint_eq(cfg.store.max_payload, 1048576);
	ck_assert_int_eq(cfg.store.retention_ms, 7 * 86400000LL);
	ck_assert_int_eq(cfg.daemon.shutdown_timeout_ms, 30000);
	ck_assert_int_eq(cfg.daemon.tick_ms, 100);
	ck_assert_str_eq(cfg.daemon.log_level, "info");
	ck_assert_int_eq(cfg.webhooks.allow_loopback, 0);
	ck_assert_int_eq(cfg.webhooks.max_per_host, 8);
	ck_assert_int_eq(cfg.notifier.enabled, 1);
	ck_assert_int_eq(cfg.notifier.coalesce_ms, 50);
	ck_assert_int_eq(cfg.callbacks.max_attempts, 5);
	ck_assert_str_eq(cfg.metrics.listen, "127.0.0.1:9464");
	ck_assert_int_eq(cfg.api.enabled, 0);
	ck_assert_str_eq(cfg.api.listen, "127.0.0.1:8080");
	ck_assert_int_eq(cfg.api.max_connections, 256);
	ck_assert_int_eq(cfg.api.request_timeout_ms, 30000);
	ck_assert_uint_eq(cfg.api.max_body, 0);
	ck_assert_int_eq(cfg.api.rate_limit, 0);
	ck_assert_uint_eq(cfg.npools, 0);
}
END_TEST

START_TEST(empty_file)
{
	ck_assert_int_eq(load("; nothing\n\n# here\n"), 0);
	ck_assert_str_eq(cfg.store.url, "redis://127.0.0.1:6379/0");
	ck_assert_str_eq(cfg.path, path);
}
END_TEST

START_TEST(every_section)
{
	const struct pool_config *p;

	ck_assert_int_eq(load(
	    "[store]\n"
	    "url = redis://:pw@10.0.0.5:6380/2\n"
	    "password_file = /etc/codeq/pw\n"
	    "connect_timeout = 500ms\n"
	    "command_timeout = 3s\n"
	    "max_payload = 64KiB\n"
	    "retention = 2d\n"
	    "[codeqd]\n"
	    "shutdown_timeout = 1m\n"
	    "tick = 50ms\n"
	    "reap_interval = 2s\n"
	    "log_level = debug\n"
	    "pidfile = /run/codeqd.pid\n"
	    "restart_backoff_max = 10s\n"
	    "[pool emails]\n"
	    "queues = emails, emails.bulk low\n"
	    "exec = /usr/bin/send-mail --from \"Codeq Robot\" -v\n"
	    "processes = 4\n"
	    "prefetch = 2\n"
	    "lease = 1m\n"
	    "timeout = 45s\n"
	    "max_attempts = 7\n"
	    "backoff_base = 500ms\n"
	    "backoff_max = 10m\n"
	    "backoff_jitter = 0\n"
	    "max_output = 2MiB\n"
	    "user = nobody\n"
	    "[pool resize]\n"
	    "queues = images\n"
	    "so = /usr/lib/codeq/resize.so\n"
	    "handler_config = width=100\n"
	    "[pool sh]\n"
	    "queues = sh\n"
	    "command = cat | tr a-z A-Z ; ignored comment\n"
	    "[webhooks]\n"
	    "allow_loopback = yes\n"
	    "allow_private = true\n"
	    "max_per_host = 3\n"
	    "connect_timeout = 1s\n"
	    "timeout = 4s\n"
	    "secret_file = /etc/codeq/secret\n"
	    "secret_env = CODEQ_SECRET\n"
	    "[notifier]\n"
	    "enabled = no\n"
	    "coalesce = 20ms\n"
	    "scan_interval = 1s\n"
	    "retries = 2\n"
	    "[callbacks]\n"
	    "enabled = off\n"
	    "max_attempts = 9\n"
	    "backoff_base = 1s\n"
	    "backoff_max = 30s\n"
	    "batch_window = 10ms\n"
	    "batch_max = 7\n"
	    "visibility = 20s\n"
	    "[metrics]\n"
	    "listen = [::1]:9999\n"), 0);
	ck_assert_str_eq(cfg.store.url, "redis://:pw@10.0.0.5:6380/2");
	ck_assert_str_eq(cfg.store.password_file, "/etc/codeq/pw");
	ck_assert_int_eq(cfg.store.connect_timeout_ms, 500);
	ck_assert_int_eq(cfg.store.command_timeout_ms, 3000);
	ck_assert_uint_eq(cfg.store.max_payload, 65536);
	ck_assert_int_eq(cfg.store.retention_ms, 2 * 86400000LL);
	ck_assert_int_eq(cfg.daemon.shutdown_timeout_ms, 60000);
	ck_assert_int_eq(cfg.daemon.tick_ms, 50);
	ck_assert_int_eq(cfg.daemon.reap_interval_ms, 2000);
	ck_assert_str_eq(cfg.daemon.log_level, "debug");
	ck_assert_str_eq(cfg.daemon.pidfile, "/run/codeqd.pid");
	ck_assert_int_eq(cfg.daemon.restart_backoff_max_ms, 10000);
	ck_assert_uint_eq(cfg.npools, 3);
	p = &cfg.pools[0];
	ck_assert_str_eq(p->name, "emails");
	ck_assert_int_eq(p->line, 15);
	ck_assert_uint_eq(p->nqueues, 3);
	ck_assert_str_eq(p->queues[0], "emails");
	ck_assert_str_eq(p->queues[1], "emails.bulk");
	ck_assert_str_eq(p->queues[2], "low");
	ck_assert_int_eq(p->kind, HANDLER_EXEC);
	ck_assert_ptr_null(p->command);
	ck_assert_uint_eq(p->argc, 4);
	ck_assert_str_eq(p->argv[0], "/usr/bin/send-mail");
	ck_assert_str_eq(p->argv[1], "--from");
	ck_assert_str_eq(p->argv[2], "Codeq Robot");
	ck_assert_str_eq(p->argv[3], "-v");
	ck_assert_ptr_null(p->argv[4]);
	ck_assert_int_eq(p->processes, 4);
	ck_assert_int_eq(p->prefetch, 2);
	ck_assert_int_eq(p->lease_ms, 60000);
	ck_assert_int_eq(p->timeout_ms, 45000);
	ck_assert_int_eq(p->max_attempts, 7);
	ck_assert_int_eq(p->backoff_base_ms, 500);
	ck_assert_int_eq(p->backoff_max_ms, 600000);
	ck_assert_int_eq(p->backoff_jitter_pct, 0);
	ck_assert_uint_eq(p->max_output, 2097152);
	ck_assert_str_eq(p->user, "nobody");
	p = config_find_pool(&cfg, "resize");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->kind, HANDLER_SO);
	ck_assert_str_eq(p->so_path, "/usr/lib/codeq/resize.so");
	ck_assert_str_eq(p->handler_config, "width=100");
	ck_assert_int_eq(p->processes, 2);	/* defaults */
	ck_assert_int_eq(p->lease_ms, 30000);
	ck_assert_int_eq(p->timeout_ms, 25000);
	ck_assert_int_eq(p->max_attempts, 0);	/* unset: the task's own */
	ck_assert_int_eq(p->backoff_jitter_pct, 20);
	p = config_find_pool(&cfg, "sh");
	ck_assert_int_eq(p->kind, HANDLER_EXEC);
	ck_assert_str_eq(p->command, "cat | tr a-z A-Z");
	ck_assert_uint_eq(p->argc, 0);
	ck_assert_ptr_null(config_find_pool(&cfg, "nope"));
	ck_assert_int_eq(cfg.webhooks.allow_loopback, 1);
	ck_assert_int_eq(cfg.webhooks.allow_private, 1);
	ck_assert_int_eq(cfg.webhooks.max_per_host, 3);
	ck_assert_int_eq(cfg.webhooks.connect_timeout_ms, 1000);
	ck_assert_int_eq(cfg.webhooks.timeout_ms, 4000);
	ck_assert_str_eq(cfg.webhooks.secret_file, "/etc/codeq/secret");
	ck_assert_str_eq(cfg.webhooks.secret_env, "CODEQ_SECRET");
	ck_assert_int_eq(cfg.notifier.enabled, 0);
	ck_assert_int_eq(cfg.notifier.coalesce_ms, 20);
	ck_assert_int_eq(cfg.notifier.scan_interval_ms, 1000);
	ck_assert_int_eq(cfg.notifier.retries, 2);
	ck_assert_int_eq(cfg.callbacks.enabled, 0);
	ck_assert_int_eq(cfg.callbacks.max_attempts, 9);
	ck_assert_int_eq(cfg.callbacks.backoff_base_ms, 1000);
	ck_assert_int_eq(cfg.callbacks.backoff_max_ms, 30000);
	ck_assert_int_eq(cfg.callbacks.batch_window_ms, 10);
	ck_assert_int_eq(cfg.callbacks.batch_max, 7);
	ck_assert_int_eq(cfg.callbacks.visibility_ms, 20000);
	ck_assert_str_eq(cfg.metrics.listen, "[::1]:9999");
}
END_TEST

START_TEST(continuation_lines)
{
	const struct pool_config *p;

	ck_assert_int_eq(load(
	    "[pool a]\n"
	    "queues = one,\n"
	    "    two\n"
	    "\tthree\n"
	    "exec = /bin/prog\n"
	    "  --flag \"x y\"\n"), 0);
	p = &cfg.pools[0];
	ck_assert_uint_eq(p->nqueues, 3);
	ck_assert_str_eq(p->queues[2], "three");
	ck_assert_uint_eq(p->argc, 3);
	ck_assert_str_eq(p->argv[2], "x y");
}
END_TEST

START_TEST(quotes_in_exec)
{
	ck_assert_int_eq(load("[pool a]\nqueues = q\n"
	    "exec = prog \"a \\\"b\\\" \\\\c\" d\"e f\"g \"\"\n"), 0);
	ck_assert_uint_eq(cfg.pools[0].argc, 4);
	ck_assert_str_eq(cfg.pools[0].argv[1], "a \"b\" \\c");
	ck_assert_str_eq(cfg.pools[0].argv[2], "de fg");
	ck_assert_str_eq(cfg.pools[0].argv[3], "");
}
END_TEST

START_TEST(metrics_off)
{
	ck_assert_int_eq(load("[metrics]\nlisten = off\n"), 0);
	ck_assert_ptr_null(cfg.metrics.listen);
	config_free(&cfg);
	ck_assert_int_eq(load("[metrics]\nlisten =\n"), 0);
	ck_assert_ptr_null(cfg.metrics.listen);
}
END_TEST

START_TEST(api_section)
{
	char buf[600];

	ck_assert_int_eq(load("[api]\nenabled = yes\nlisten = [::1]:0\n"
	    "tokens_file = /etc/codeq/api-tokens\nmax_connections = 64\n"
	    "request_timeout = 10s\nmax_body = 64KiB\nrate_limit = 100\n"
	    "rate_burst = 200\ntls_cert = /c.pem\ntls_key = /k.pem\n"), 0);
	ck_assert_int_eq(cfg.api.enabled, 1);
	ck_assert_str_eq(cfg.api.listen, "[::1]:0");
	ck_assert_str_eq(cfg.api.tokens_file, "/etc/codeq/api-tokens");
	ck_assert_int_eq(cfg.api.max_connections, 64);
	ck_assert_int_eq(cfg.api.request_timeout_ms, 10000);
	ck_assert_uint_eq(cfg.api.max_body, 65536);
	ck_assert_int_eq(cfg.api.rate_limit, 100);
	ck_assert_int_eq(cfg.api.rate_burst, 200);
	ck_assert_str_eq(cfg.api.tls_cert, "/c.pem");
	ck_assert_str_eq(cfg.api.tls_key, "/k.pem");
	ck_assert_int_eq(cfg.api.line, 1);
	ck_assert_int_eq(cfg.api.tokens_file_line, 4);
	config_api_claim_url(&cfg, buf, sizeof(buf));
	ck_assert_str_eq(buf, "https://[::1]:0/v1/codeq/tasks/claim");
	config_free(&cfg);
	ck_assert_int_eq(load("[api]\nenabled = yes\ntokens_file = /t\n"
	    "public_url = https://queue.example.com/\n"), 0);
	config_api_claim_url(&cfg, buf, sizeof(buf));
	ck_assert_str_eq(buf, "https://queue.example.com/v1/codeq/tasks/claim");
	config_free(&cfg);
	ck_assert_int_eq(load("[api]\npublic_url = http://q.example.com\n"), 0);
	config_api_claim_url(&cfg, buf, sizeof(buf));
	ck_assert_str_eq(buf, "");	/* the API is off */
	config_free(&cfg);
	/* JWTs alone will do. */
	ck_assert_int_eq(load("[api]\nenabled = yes\njwks_file = /j.json\n"
	    "jwt_issuer = https://idp.example.com/\njwt_audience = codeq\n"
	    "jwt_leeway = 5s\n"), 0);
	ck_assert_ptr_null(cfg.api.tokens_file);
	ck_assert_str_eq(cfg.api.jwks_file, "/j.json");
	ck_assert_int_eq(cfg.api.jwks_file_line, 3);
	ck_assert_str_eq(cfg.api.jwt_issuer, "https://idp.example.com/");
	ck_assert_str_eq(cfg.api.jwt_audience, "codeq");
	ck_assert_int_eq(cfg.api.jwt_leeway_ms, 5000);
	config_free(&cfg);
	ck_assert_int_eq(load("[api]\njwks_file = /j.json\n"), 0);
	ck_assert_int_eq(cfg.api.jwt_leeway_ms, 60000);	/* the default */
	ck_assert_ptr_null(cfg.api.jwt_issuer);
}
END_TEST

START_TEST(api_errors)
{
	assert_error("[api]\nlisten = 8080\n",
	    ":2: listen: must be HOST:PORT, [IPV6]:PORT or off, got '8080'");
	assert_error("[api]\nmax_connections = 0\n",
	    ":2: max_connections: must be 1-65536, got 0");
	assert_error("[api]\nrequest_timeout = 10ms\n",
	    ":2: request_timeout: must be 1s-1h, got 10ms");
	assert_error("[api]\nmax_body = 1GiB\n",
	    ":2: max_body: must be 1KiB-512MiB, got 1GiB");
	assert_error("[api]\nrate_limit = -1\n",
	    ":2: rate_limit: must be 0-1000000, got -1");
	assert_error("[api]\n\nrate_burst = 5\n",
	    ":3: rate_burst: needs rate_limit (requests/s per token)");
	assert_error("[api]\ntls_cert = /c.pem\n",
	    ":2: tls_cert: tls_cert and tls_key go together: set both or "
	    "neither");
	assert_error("[store]\n[api]\nenabled = yes\n",
	    ":2: [api]: enabled without tokens_file or jwks_file: no request "
	    "could be authorized");
	assert_error("[api]\n\njwt_issuer = https://idp.example.com\n",
	    ":3: jwt_issuer: needs jwks_file (the keys of the JWTs)");
	assert_error("[api]\njwt_audience = codeq\n",
	    ":2: jwt_audience: needs jwks_file (the keys of the JWTs)");
	assert_error("[api]\njwks_file = /j\njwt_leeway = 2h\n",
	    ":3: jwt_leeway: must be 0s-1h, got 2h");
	assert_error("[api]\njwks_file =\n",
	    ":2: jwks_file: must not be empty");
	assert_error("[api]\njwks_file = /j\njwt_issuer =\n",
	    ":3: jwt_issuer: must not be empty");
	assert_error("[api]\nenabled = yes\nlisten = off\ntokens_file = /t\n",
	    ":1: [api]: enabled, but listen is off");
	assert_error("[api]\npublic_url = ftp://q.example.com\n",
	    ":2: public_url: URL scheme must be http or https, got "
	    "'ftp://q.example.com'");
	assert_error("[api]\ntokens_file =\n",
	    ":2: tokens_file: must not be empty");
}
END_TEST

START_TEST(errors_sections)
{
	assert_error("[store]\nurl = redis://h:1\n[colour]\nx = 1\n",
	    ":3: [colour]: unknown section (known: store, codeqd, pool NAME, shard NAME, "
	    "webhooks, notifier, callbacks, metrics, api)");
	assert_error("; empty unknown sections are errors too\n[colour]\n",
	    ":2: [colour]: unknown section (known: store, codeqd, pool NAME, shard NAME, "
	    "webhooks, notifier, callbacks, metrics, api)");
	assert_error("url = redis://h\n",
	    ":1: url: key outside any section (put it under [store], "
	    "[codeqd], [pool NAME], ...)");
	assert_error("[store]\nurl = redis://h\n\n[store]\ncommand_timeout = 1s\n",
	    ":4: [store]: section repeated (first at line 1)");
	assert_error("[store]\nurl redis\n",
	    ":2: syntax error: expected 'key = value', '[section]' or a comment");
	assert_error("[store\nurl = redis://h\n",
	    ":1: syntax error: expected 'key = value', '[section]' or a comment");
}
END_TEST

START_TEST(errors_keys)
{
	assert_error("[store]\ncolour = blue\n",
	    ":2: colour: unknown key in [store]");
	assert_error("[pool p]\nqueues = q\nexec = x\nthreads = 3\n",
	    ":4: threads: unknown key in [pool p]");
	assert_error("[store]\nretention = 1d\nretention = 2d\n",
	    ":3: retention: set twice in [store] (first at line 2)");
	assert_error("[store]\nconnect_timeout = 5 minutes\n",
	    ":2: connect_timeout: must be a duration like 250ms, 30s, 5m, 2h, "
	    "7d or a number of seconds, got '5 minutes'");
	assert_error("[store]\nconnect_timeout = 0\n",
	    ":2: connect_timeout: must be 1ms-5m, got 0");
	assert_error("[store]\nmax_payload = lots\n",
	    ":2: max_payload: must be a size like 4096, 64KiB, 1MiB, got 'lots'");
	assert_error("[store]\nmax_payload = 1GiB\n",
	    ":2: max_payload: must be 1-512MiB, got 1GiB");
	assert_error("[store]\nurl = http://localhost\n",
	    ":2: url: must start with redis://, unix:// or redis+unix:// (expected "
	    "redis://[[user][:password]@]host[:port][/db] or "
	    "unix://[[user][:password]@]/path[?db=N]), got 'http://localhost'");
	assert_error("[store]\nurl = redis://localhost:99999/0\n",
	    ":2: url: port must be 1-65535 (expected "
	    "redis://[[user][:password]@]host[:port][/db] or "
	    "unix://[[user][:password]@]/path[?db=N]), got 'redis://localhost:99999/0'");
	assert_error("[store]\nurl = redis://:6379\n",
	    ":2: url: the host is empty (expected "
	    "redis://[[user][:password]@]host[:port][/db] or "
	    "unix://[[user][:password]@]/path[?db=N]), got 'redis://:6379'");
	assert_error("[store]\nurl = redis://h:1/x\n",
	    ":2: url: database must be a number (expected "
	    "redis://[[user][:password]@]host[:port][/db] or "
	    "unix://[[user][:password]@]/path[?db=N]), got 'redis://h:1/x'");
	assert_error("[store]\npassword_file =\n",
	    ":2: password_file: must not be empty");
	assert_error("[codeqd]\nlog_level = loud\n",
	    ":2: log_level: must be debug, info, notice, warning or error, "
	    "got 'loud'");
	assert_error("[webhooks]\nallow_loopback = sometimes\n",
	    ":2: allow_loopback: must be yes or no, got 'sometimes'");
	assert_error("[webhooks]\nsecret_env = 1BAD-NAME\n",
	    ":2: secret_env: must be an environment variable name, "
	    "got '1BAD-NAME'");
	assert_error("[webhooks]\nmax_per_host = 8x\n",
	    ":2: max_per_host: must be a whole number, got '8x'");
	assert_error("[metrics]\nlisten = localhost\n",
	    ":2: listen: must be HOST:PORT, [IPV6]:PORT or off, got 'localhost'");
	assert_error("[metrics]\nlisten = 127.0.0.1:70000\n",
	    ":2: listen: port must be 0-65535, got '127.0.0.1:70000'");
	assert_error("[callbacks]\nbackoff_base = 1m\nbackoff_max = 10s\n",
	    ":3: backoff_max: backoff_max (10s) must not be below "
	    "backoff_base (1m)");
}
END_TEST

START_TEST(shards)
{
	const char *text =
	    "[store]\nurl = redis://127.0.0.1:6379\nshard_hash = yes\n"
	    "[shard b]\nurl = redis://127.0.0.1:6380\nqueues = emails, sms-*\n"
	    "[shard c]\nurl = redis://127.0.0.1:6381\n";

	ck_assert_int_eq(load(text), 0);
	ck_assert_int_eq(cfg.store.shard_hash, 1);
	ck_assert_uint_eq(cfg.nshards, 2);
	ck_assert_str_eq(cfg.shards[0].name, "b");
	ck_assert_str_eq(cfg.shards[0].url, "redis://127.0.0.1:6380");
	ck_assert_uint_eq(cfg.shards[0].nqueues, 2);
	ck_assert_str_eq(cfg.shards[0].queues[1], "sms-*");
	ck_assert_uint_eq(cfg.shards[1].nqueues, 0);
	ck_assert_int_eq(cfg.shards[1].line, 7);
}
END_TEST

START_TEST(errors_shards)
{
	assert_error("[shard]\nurl = redis://h:1\n",
	    ":1: [shard]: needs a name: [shard NAME]");
	assert_error("[shard home]\nurl = redis://h:1\n",
	    ":1: [shard]: invalid shard name 'home' (1-64 characters of A-Z "
	    "a-z 0-9 _ . -; \"home\" is [store])");
	assert_error("[shard b]\nqueues = q\n",
	    ":1: [shard b]: no store: set url = redis://...");
	assert_error("[shard b]\nurl = redis://h:1\nqueues = a/b\n",
	    ":3: queues: invalid queue name 'a/b' (1-100 characters of A-Z "
	    "a-z 0-9 _ . -, or a glob of them with * ? [ ])");
	assert_error("[shard b]\nurl = redis://h:1\nlease = 1s\n",
	    ":3: lease: unknown key in [shard b]");
	assert_error("[shard b]\nurl = redis://h:1\n[shard b]\nurl = redis://h:2\n",
	    ":3: [shard]: duplicate shard 'b' (first at line 1)");
	assert_error("[store]\nurl = redis://h:1\n[shard b]\nurl = redis://h:1\n",
	    ":3: url: [shard b] is the store of [store]: one store, two names");
	assert_error("[shard b]\nurl = redis://h:1\n[shard c]\nurl = redis://h:1\n",
	    ":3: url: [shard c] is the store of [shard b] (line 1)");
	assert_error("[shard b]\nurl = redis://h:1\nqueues = x, y\n"
	    "[shard c]\nurl = redis://h:2\nqueues = y\n",
	    ":4: queues: queue 'y' is claimed by [shard c] and [shard b] "
	    "(line 1)");
	assert_error("[store]\nurl = redis://h:1\ncluster = yes\n"
	    "[shard b]\nurl = redis://h:2\n",
	    ":4: [shard]: [shard b]: [store] cluster = yes (line 3) routes "
	    "every queue by its slot: remove the [shard] sections or set "
	    "cluster = no");
	ck_assert_int_eq(load("[store]\nurl = redis://h:1\ncluster = yes\n"), 0);
	ck_assert_int_eq(cfg.store.cluster, 1);
	config_free(&cfg);
	ck_assert_int_eq(load("[store]\nurl = redis://h:1\n"), 0);
	ck_assert_int_eq(cfg.store.cluster, 0);
	config_free(&cfg);
	/* Globs may overlap: the first shard in the file wins. */
	ck_assert_int_eq(load("[shard b]\nurl = redis://h:1\nqueues = a*\n"
	    "[shard c]\nurl = redis://h:2\nqueues = a*\n"), 0);
}
END_TEST

START_TEST(errors_pools)
{
	assert_error("[pool p]\nqueues = q\nprocesses = 0\n",
	    ":3: processes: must be 1-1024, got 0");
	assert_error("[pool p]\nqueues = q\n",
	    ":1: [pool p]: no handler: set one of exec, command or so");
	assert_error("[pool p]\n",
	    ":1: [pool p]: no handler: set one of exec, command or so");
	assert_error("[pool p]\nexec = /bin/true\n",
	    ":1: [pool p]: no queues: set queues = NAME...");
	assert_error("[pool p]\nqueues = q\nexec = /bin/true\n\ncommand = true\n",
	    ":5: command: pool 'p' already has a handler (exec at line 3); "
	    "set only one of exec, command, so");
	assert_error("[pool p]\nqueues = good, b@d\nexec = x\n",
	    ":2: queues: invalid queue name 'b@d' (1-100 characters of "
	    "A-Z a-z 0-9 _ . -)");
	assert_error("[pool p]\nqueues = a, b, a\nexec = x\n",
	    ":2: queues: queue 'a' listed twice");
	assert_error("[pool p]\nqueues = ,\nexec = x\n",
	    ":2: queues: needs at least one queue name");
	assert_error("[pool p]\nqueues = q\nexec = x\n[pool p]\nqueues = r\nso = y\n",
	    ":4: [pool]: duplicate pool 'p' (first at line 1)");
	assert_error("[pool]\nqueues = q\n",
	    ":1: [pool]: needs a name: [pool NAME]");
	assert_error("[pool a/b]\nqueues = q\n",
	    ":1: [pool]: invalid pool name 'a/b' (1-64 characters of "
	    "A-Z a-z 0-9 _ . -)");
	assert_error("[pool p]\nqueues = q\nexec = prog \"unclosed\n",
	    ":3: exec: unterminated double quote");
	assert_error("[pool p]\nqueues = q\nexec =\n",
	    ":3: exec: must not be empty");
	assert_error("[pool p]\nqueues = q\nso = x.so\nlease = 10ms\n",
	    ":4: lease: must be 1s-1d, got 10ms");
	assert_error("[pool p]\nqueues = q\nso = x.so\nbackoff_max = 1s\n"
	    "backoff_base = 2s\n",
	    ":5: backoff_max: backoff_max (1s) must not be below "
	    "backoff_base (2s)");
	assert_error("[pool p]\nqueues = q\nso = x.so\nbackoff_jitter = 101\n",
	    ":4: backoff_jitter: must be 0-100, got 101");
	assert_error("[pool p]\nqueues = q\nso = x.so\nmax_output = 10\n",
	    ":4: max_output: must be 1KiB-256MiB, got 10");
}
END_TEST

START_TEST(error_first_in_file_wins)
{
	char text[1024];

	/* A line longer than inih's buffer is refused, never cut. */
	snprintf(text, sizeof(text), "[pool p]\nqueues = q\nexec = /bin/%0250d\n",
	    0);
	assert_error(text, ":3: line too long (at most 198 characters; "
	    "continue a long value on indented lines)");
	assert_error("[store]\nurl = redis://h\nbad line\n[foo]\n",
	    ":3: syntax error: expected 'key = value', '[section]' or a comment");
}
END_TEST

START_TEST(error_keeps_config)
{
	ck_assert_int_eq(load("[store]\nurl = redis://keep:1\n"), 0);
	ck_assert_int_eq(load("[store]\nurl = nope\n"), -1);
	ck_assert_str_eq(cfg.store.url, "redis://keep:1");
}
END_TEST

START_TEST(missing_file)
{
	char want[512];

	unlink(path);
	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory",
	    path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(pools_differ)
{
	struct codeq_config b;

	ck_assert_int_eq(load("[pool p]\nqueues = a, b\nexec = x y\n"), 0);
	b = cfg;
	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(load("[pool p]\nqueues = a, b\nexec = x y\n"), 0);
	ck_assert_int_eq(pool_config_differs(&cfg.pools[0], &b.pools[0]), 0);
	config_free(&cfg);
	ck_assert_int_eq(load("[pool p]\nqueues = a, b\nexec = x z\n"), 0);
	ck_assert_int_ne(pool_config_differs(&cfg.pools[0], &b.pools[0]), 0);
	config_free(&cfg);
	ck_assert_int_eq(load("[pool p]\nqueues = b, a\nexec = x y\n"), 0);
	ck_assert_int_ne(pool_config_differs(&cfg.pools[0], &b.pools[0]), 0);
	config_free(&cfg);
	ck_assert_int_eq(load("[pool p]\nqueues = a, b\nexec = x y\nprocesses=3\n"), 0);
	ck_assert_int_ne(pool_config_differs(&cfg.pools[0], &b.pools[0]), 0);
	config_free(&b);
}
END_TEST

START_TEST(environment)
{
	ck_assert_int_eq(load("[pool p]\nqueues = q\nexec = sh -c true\n"), 0);
	ck_assert_int_eq(config_check_environment(&cfg, err, sizeof(err)), 0);
	config_free(&cfg);
	ck_assert_int_eq(load("[pool p]\nqueues = q\n"
	    "exec = no-such-program-codeq\n"), 0);
	ck_assert_int_eq(config_check_environment(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, ":3: exec: no-such-program-codeq: "
	    "no such executable program in PATH"));
	config_free(&cfg);
	ck_assert_int_eq(load("[pool p]\nqueues = q\nso = /nonexistent/h.so\n"),
	    0);
	ck_assert_int_eq(config_check_environment(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, ":3: so: /nonexistent/h.so: No such "
	    "file or directory"));
	config_free(&cfg);
	ck_assert_int_eq(load("[pool p]\nqueues = q\nexec = sh\n"
	    "user = no-such-user-codeq\n"), 0);
	ck_assert_int_eq(config_check_environment(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, ":4: user: no such user "
	    "'no-such-user-codeq'"));
	config_free(&cfg);
	ck_assert_int_eq(load("[codeqd]\n[store]\n\npassword_file = /nonexistent/pw\n"),
	    0);
	ck_assert_int_eq(config_check_environment(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, ":4: password_file: /nonexistent/pw: "
	    "No such file or directory"));
	config_free(&cfg);
	ck_assert_int_eq(load("[api]\nenabled = yes\n"
	    "jwks_file = /nonexistent/jwks.json\n"), 0);
	ck_assert_int_eq(config_check_environment(&cfg, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, ":3: jwks_file: /nonexistent/jwks.json: "
	    "No such file or directory"));
}
END_TEST

/* Random mixes of INI pieces and bytes: always 0 or -1 with a message
 * that starts with the path, never a crash (run it under ASan). */
START_TEST(garbage)
{
	static const char *pieces[] = { "[store]\n", "[pool p]\n", "[pool]\n",
	    "[", "]", "=", " ; c\n", "# c\n", "\n", "  ", "\t", "\"", "url",
	    "queues = a, b\n", "exec = x \"y z\"\n", "so = s\n", "processes",
	    "5m", "1MiB", "redis://h:1/2", "\xff\xfe", ":", "[metrics]\n",
	    "listen = [::1]:9\n", "lease = 1s\n", "[pool q]\nqueues=q\ncommand=c\n" };
	unsigned int seed = 12345;
	char text[4096];
	int i, j;

	for (i = 0; i < 300; i++) {
		size_t len = 0;
		int n = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 60;

		for (j = 0; j < n; j++) {
			const char *p;
			unsigned int r = (seed = seed * 1103515245 + 12345) >> 16;

			if (r % 7 == 0) {	/* any byte but NUL */
				if (len + 1 < sizeof(text))
					text[len++] = (char)(1 + r % 255);
				continue;
			}
			p = pieces[r % (sizeof(pieces) / sizeof(pieces[0]))];
			if (len + strlen(p) + 1 >= sizeof(text))
				break;
			memcpy(text + len, p, strlen(p));
			len += strlen(p);
		}
		text[len] = '\0';
		if (load(text) == 0) {
			config_free(&cfg);
		} else {
			ck_assert_msg(strncmp(err, path, strlen(path)) == 0,
			    "%s", err);
		}
	}
}
END_TEST

/* Editors on some systems start the file with a UTF-8 byte order mark. */
START_TEST(byte_order_mark)
{
	ck_assert_int_eq(load("\xef\xbb\xbf[store]\nurl = redis://bom\n"), 0);
	ck_assert_str_eq(cfg.store.url, "redis://bom");
}
END_TEST

START_TEST(section_names_trimmed)
{
	ck_assert_int_eq(load("[ store ]\nurl = redis://h\n[  pool   p1 ]\n"
	    "queues = q\nso = x\n"), 0);
	ck_assert_str_eq(cfg.store.url, "redis://h");
	ck_assert_str_eq(cfg.pools[0].name, "p1");
}
END_TEST

/* The installed example must always load. */
START_TEST(example_config)
{
	const char *top = getenv("top_srcdir");
	char ex[1024];

	snprintf(ex, sizeof(ex), "%s/etc/codeq.conf", top ? top : ".");
	if (access(ex, R_OK) != 0)
		return;
	ck_assert_msg(config_load(ex, &cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_ge(cfg.npools, 1);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("load");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, empty_file);
	tcase_add_test(tc, every_section);
	tcase_add_test(tc, continuation_lines);
	tcase_add_test(tc, quotes_in_exec);
	tcase_add_test(tc, metrics_off);
	tcase_add_test(tc, api_section);
	tcase_add_test(tc, api_errors);
	tcase_add_test(tc, errors_sections);
	tcase_add_test(tc, errors_keys);
	tcase_add_test(tc, errors_pools);
	tcase_add_test(tc, shards);
	tcase_add_test(tc, errors_shards);
	tcase_add_test(tc, error_first_in_file_wins);
	tcase_add_test(tc, error_keeps_config);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, pools_differ);
	tcase_add_test(tc, environment);
	tcase_add_test(tc, example_config);
	tcase_add_test(tc, garbage);
	tcase_add_test(tc, section_names_trimmed);
	tcase_add_test(tc, byte_order_mark);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
