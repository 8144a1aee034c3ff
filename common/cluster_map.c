/*
 * cluster_map.c - a cluster's slot map for the asynchronous links
 * (cluster_map.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cluster_map.h"

int
cluster_map_read(const struct codeq_config *cfg, struct cluster *cl,
    int timeout_ms, char *err, size_t errlen)
{
	const struct store_config *st = &cfg->store;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct store_url u;
	codeq_error e;
	char *pw = NULL;
	int rc;

	if (store_url_parse(st->url, &u, &e) != CODEQ_OK) {
		snprintf(err, errlen, "%s", e.msg);
		return -1;
	}
	if (st->password_file && *st->password_file &&
	    (pw = read_secret_line(st->password_file, err, errlen)) == NULL)
		return -1;
	if (pw && *pw)
		snprintf(u.password, sizeof(u.password), "%s", pw);
	free_secret(pw);
	cluster_close(cl);
	rc = cluster_open(cl, &u, tv, &e);
	explicit_bzero(&u, sizeof(u));
	if (rc != CODEQ_OK)
		snprintf(err, errlen, "%s", e.msg);
	return rc == CODEQ_OK ? 0 : -1;
}

int
cluster_map_is_kvrocks(struct cluster *cl)
{
	redisReply *r;
	codeq_error e;
	int yes;

	if (cl->nnodes == 0 || cluster_node_connect(cl, 0, &e) != CODEQ_OK ||
	    (r = redisCommand(cl->nodes[0].ctx, "INFO server")) == NULL)
		return 0;
	yes = r->type == REDIS_REPLY_STRING ?
	    strstr(r->str, "kvrocks_version") != NULL : 0;
	freeReplyObject(r);
	return yes;
}

void
cluster_map_node_url(const struct cluster *cl, size_t i, struct store_url *u)
{
	if (i >= cl->nnodes)
		return;
	snprintf(u->host, sizeof(u->host), "%s", cl->nodes[i].host);
	u->port = cl->nodes[i].port;
	snprintf(u->where, sizeof(u->where), "%s:%d", u->host, u->port);
}
