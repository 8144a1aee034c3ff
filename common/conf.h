/*
 * conf.h - the codeq configuration file (INI), shared by codeqd, its
 * children and the codeq CLI.  Documented in codeq.conf(5); example in
 * etc/codeq.conf.
 *
 * Parsing validates everything before anything is forked: an error names
 * the file, the line and what is wrong ("codeq.conf:12: processes: must be
 * 1-1024, got 0").  Durations accept "250ms", "30s", "5m", "2h", "7d", or a
 * bare number of seconds; sizes accept "512", "64KiB", "1MiB".
 */
#ifndef CODEQ_CONF_H
#define CODEQ_CONF_H

#include <stddef.h>
#include <stdint.h>

enum handler_kind { HANDLER_EXEC = 1, HANDLER_SO = 2 };

struct pool_config {
	char *name;			/* [pool NAME] */
	char **queues;			/* queues = a, b, c (claimed in that order) */
	size_t nqueues;
	enum handler_kind kind;
	char *command;			/* command = ... : run with /bin/sh -c */
	char **argv;			/* exec = prog arg... : split on blanks, no shell */
	size_t argc;
	char *so_path;			/* so = /path/handler.so */
	char *handler_config;		/* handler_config = string for init() */
	int processes;			/* default 2 */
	int prefetch;			/* claim up to N at once; default 1 */
	int64_t lease_ms;		/* lease = 30s */
	int64_t timeout_ms;		/* timeout = 25s (handler run time) */
	int max_attempts;		/* max_attempts = N: caps the tasks' own; 0: unset */
	int64_t backoff_base_ms;	/* backoff_base = 1s */
	int64_t backoff_max_ms;		/* backoff_max = 1h */
	int backoff_jitter_pct;		/* backoff_jitter = 20 (percent, 0-100) */
	size_t max_output;		/* max_output = 1MiB (stdout; stderr tail 4 KiB) */
	char *user;			/* user = codeq (when started as root) */
	int line;			/* where the section starts, for messages */
	int handler_line, user_line;	/* where exec/command/so and user are */
};

struct store_config {
	char *url;			/* url = redis://127.0.0.1:6379/0 */
	char *password_file;		/* password_file = path (never in argv) */
	int64_t connect_timeout_ms;	/* connect_timeout = 2s */
	int64_t command_timeout_ms;	/* command_timeout = 5s */
	size_t max_payload;		/* max_payload = 1MiB */
	int64_t retention_ms;		/* retention = 7d */
	int password_file_line;		/* for messages; 0: not in the file */
	int shard_hash;			/* shard_hash = no: queues no [shard] names
					 * are rendezvous-hashed over [store]
					 * and every [shard] (else on [store]) */
	int cluster;			/* cluster = no: url is the seed node of a
					 * Redis Cluster (no [shard] then) */
	int cluster_line;		/* for messages; 0: not in the file */
};

/* [shard NAME]: a store beside [store] (the home, which keeps the queue
 * registry and the subscriptions) holding the queues it names
 * (docs/storage.md "Clusters and shards"). */
struct shard_config {
	char *name;			/* [shard NAME]; not "home" */
	char *url;			/* url = redis://... (required) */
	char *password_file;		/* password_file = path */
	char **queues;			/* queues = names or fnmatch globs */
	size_t nqueues;
	int line, password_file_line;
};

struct daemon_config {
	int64_t shutdown_timeout_ms;	/* shutdown_timeout = 30s */
	int64_t tick_ms;		/* tick = 100ms: promote/heartbeat cron */
	int64_t reap_interval_ms;	/* reap_interval = 1s */
	char *log_level;		/* log_level = info (debug|info|notice|warning|error) */
	char *pidfile;			/* pidfile = (none) */
	int64_t restart_backoff_max_ms;	/* restart_backoff_max = 30s */
};

struct webhook_policy {
	int allow_loopback;		/* allow_loopback = no */
	int allow_private;		/* allow_private = no */
	int max_per_host;		/* max_per_host = 8 in-flight requests */
	int64_t connect_timeout_ms;	/* connect_timeout = 2s */
	int64_t timeout_ms;		/* timeout = 10s */
	char *secret_file;		/* secret_file = path, holds whsec_... */
	char *secret_env;		/* secret_env = NAME of an environment variable */
	int secret_file_line;		/* for messages; 0: not in the file */
};

struct notifier_config {
	int enabled;			/* enabled = yes */
	int64_t coalesce_ms;		/* coalesce = 50ms */
	int64_t scan_interval_ms;	/* scan_interval = 5s */
	int retries;			/* retries = 0 */
};

struct callbacks_config {
	int enabled;			/* enabled = yes */
	int max_attempts;		/* max_attempts = 5 */
	int64_t backoff_base_ms;	/* backoff_base = 2s */
	int64_t backoff_max_ms;		/* backoff_max = 60s */
	int64_t batch_window_ms;	/* batch_window = 50ms */
	int batch_max;			/* batch_max = 100 */
	int64_t visibility_ms;		/* visibility = 30s */
};

struct metrics_config {
	char *listen;			/* listen = 127.0.0.1:9464; "" or "off": disabled (NULL) */
};

/* [api]: codeq-api, the HTTP front door (docs/http-api.md). */
struct api_config {
	int enabled;			/* enabled = no */
	char *listen;			/* listen = 127.0.0.1:8080 */
	char *tokens_file;		/* tokens_file = path (SHA-256 hashes, scopes) */
	char *jwks_file;		/* jwks_file = path (JWKS: RS256 JWT keys) */
	char *jwt_issuer;		/* jwt_issuer = iss a JWT must carry (NULL: any) */
	char *jwt_audience;		/* jwt_audience = one of a JWT's aud (NULL: any) */
	int64_t jwt_leeway_ms;		/* jwt_leeway = 60s (clock skew on exp, nbf, iat) */
	int max_connections;		/* max_connections = 256 */
	int64_t request_timeout_ms;	/* request_timeout = 30s (idle connection) */
	size_t max_body;		/* max_body = [store] max_payload (0: that) */
	int rate_limit;			/* rate_limit = 0 requests/s per token (0: off) */
	int rate_burst;			/* rate_burst = 0 (0: rate_limit) */
	char *tls_cert;			/* tls_cert = path (PEM), with tls_key */
	char *tls_key;			/* tls_key = path (PEM) */
	char *public_url;		/* public_url = http(s)://listen: subscribers' way in */
	int line;			/* where [api] starts; 0: not in the file */
	int tokens_file_line, tls_cert_line, tls_key_line, rate_burst_line;
	int jwks_file_line, jwt_issuer_line, jwt_audience_line;
};

struct codeq_config {
	char *path;			/* the file it was read from */
	struct store_config store;
	struct daemon_config daemon;	/* [codeqd] */
	struct webhook_policy webhooks;	/* [webhooks] */
	struct notifier_config notifier;
	struct callbacks_config callbacks;
	struct metrics_config metrics;
	struct api_config api;
	struct pool_config *pools;
	size_t npools;
	struct shard_config *shards;
	size_t nshards;
};

/* The claimUrl of a WORK_AVAILABLE body: [api] public_url (else
 * http://LISTEN, https:// with TLS) + "/v1/codeq/tasks/claim"; "" when
 * the API is off. */
void config_api_claim_url(const struct codeq_config *cfg, char *buf,
    size_t len);

/* Defaults for every field (no pools). */
void config_defaults(struct codeq_config *cfg);
/* Reads and validates path.  On error returns -1, writes
 * "path:line: key: what is wrong" into err and leaves *cfg untouched; on
 * success overwrites *cfg (free what it held first, or pass a fresh one). */
int config_load(const char *path, struct codeq_config *cfg, char *err,
    size_t errlen);
/* The same for a file already open as fd (read from its start; fd stays
 * open): messages and cfg->path say name, the file it is a copy of. */
int config_load_fd(int fd, const char *name, struct codeq_config *cfg,
    char *err, size_t errlen);
/* Checks what config_load cannot know from the text alone and codeqd
 * needs at start: handler .so files and exec programs exist, users exist,
 * password and secret files are readable.  Same error format. */
int config_check_environment(const struct codeq_config *cfg, char *err,
    size_t errlen);
void config_free(struct codeq_config *cfg);
/* The pool called name, or NULL. */
const struct pool_config *config_find_pool(const struct codeq_config *cfg,
    const char *name);
/* Non-zero when two optional settings (NULL: unset) differ. */
int config_str_differs(const char *a, const char *b);
/* Non-zero when the stores differ: [store] url, password_file or
 * shard_hash, or any [shard NAME]. */
int config_stores_differ(const struct codeq_config *a,
    const struct codeq_config *b);
/* Non-zero when two pools differ in anything a restart would change. */
int pool_config_differs(const struct pool_config *a,
    const struct pool_config *b);

/* Shared parsers, also used by the CLI: return 0 or -1. */
int parse_duration_ms(const char *s, int64_t *out);
int parse_size(const char *s, size_t *out);
int parse_bool(const char *s, int *out);
char *read_secret_line(const char *path, char *err, size_t errlen);
void free_secret(char *);
/* RFC 3339 ("2026-11-23T18:00:00Z", offsets and fractions allowed) or
 * epoch seconds ("1795000000"); out is epoch milliseconds. */
int parse_time_ms(const char *s, int64_t *out);
/* Inverses for messages: 90000 -> "1m30s"; 1048576 -> "1MiB". */
void format_duration(int64_t ms, char *buf, size_t len);
/* Epoch ms -> "2026-11-23T18:00:00.123Z" (UTC); len >= 32. */
void format_rfc3339_ms(int64_t ms, char *buf, size_t len);
void format_size(size_t n, char *buf, size_t len);

#endif
