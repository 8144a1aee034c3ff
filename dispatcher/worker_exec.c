/*
 * worker_exec.c - workers run codeq-worker, a program of their own.
 *
 * codeqd links libcurl and libmicrohttpd (for the notifier, the callbacks
 * and the metrics listener) and, through them, TLS, Kerberos and LDAP
 * libraries: some 40 shared objects.  A worker forked from codeqd keeps
 * all of them mapped, which costs resident memory in every worker and
 * page-table copies at every fork.  So the forked child executes
 * codeq-worker (worker/main.c), which links only what a worker uses, and
 * the notifier and callbacks children execute codeq-webhooks
 * (webhooks/main.c): codeqd itself no longer links libcurl.
 *
 * The worker must run exactly the pool configuration the dispatcher runs,
 * not whatever the file says by the time it starts (it may have been
 * edited without a SIGHUP yet).  So at each (re)load the dispatcher keeps
 * a snapshot of the file in a memfd, parses the snapshot and checks that
 * it gives the same store and pools; workers read the snapshot
 * (/proc/self/fd/N).  Without a valid snapshot, or when codeq-worker
 * cannot be executed, the child runs worker_main() in-process as before.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codeqd.h"
#include "conf.h"
#include "log.h"

#define SNAPSHOT_MAX (4 * 1024 * 1024)

static int snap_fd = -1;
static const struct codeq_config *snap_cfg;

static int
same_config(const struct codeq_config *a, const struct codeq_config *b)
{
	const struct store_config *x = &a->store, *y = &b->store;
	size_t i;

	if (config_str_differs(x->url, y->url) ||
	    config_str_differs(x->password_file, y->password_file) ||
	    x->connect_timeout_ms != y->connect_timeout_ms ||
	    x->command_timeout_ms != y->command_timeout_ms ||
	    x->max_payload != y->max_payload ||
	    x->retention_ms != y->retention_ms || a->npools != b->npools)
		return 0;
	for (i = 0; i < a->npools; i++)
		if (config_str_differs(a->pools[i].name, b->pools[i].name) ||
		    pool_config_differs(&a->pools[i], &b->pools[i]))
			return 0;
	return 1;
}

/* A memfd holding the bytes of path; -1 on error. */
static int
snapshot_file(const char *path)
{
	char buf[65536];
	size_t total = 0;
	ssize_t n;
	int in, out;

	if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if ((out = memfd_create("codeq.conf", MFD_CLOEXEC)) < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		total += (size_t)n;
		if (total > SNAPSHOT_MAX || write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	}
	close(in);
	if (n < 0) {
		close(out);
		return -1;
	}
	return out;
}

int
worker_exec_fd(void)
{
	return snap_fd;
}

void
worker_exec_snapshot(const char *path, const struct codeq_config *cfg)
{
	struct codeq_config check;
	char snap[64], err[512];
	int fd;

	if (snap_fd >= 0)
		close(snap_fd);
	snap_fd = -1;
	snap_cfg = NULL;
	if ((fd = snapshot_file(path)) < 0) {
		log_notice("cannot snapshot the configuration: workers run "
		    "inside codeqd", "error", strerror(errno));
		return;
	}
	snprintf(snap, sizeof(snap), "/proc/self/fd/%d", fd);
	memset(&check, 0, sizeof(check));
	if (config_load(snap, &check, err, sizeof(err)) < 0) {
		log_notice("configuration snapshot unreadable: workers run "
		    "inside codeqd", "error", err);
		close(fd);
		return;
	}
	if (!same_config(&check, cfg)) {
		log_notice("the configuration file changed while it was read: "
		    "workers run inside codeqd until the next reload");
		close(fd);
	} else {
		snap_fd = fd;
		snap_cfg = cfg;
	}
	config_free(&check);
}

/* prog beside this executable (the build tree); else in pkglibexecdir,
 * under the same root as this executable when it runs from a staged
 * install (DESTDIR: .../ROOT$(sbindir)/codeqd); else in pkglibexecdir. */
static int
prog_path(const char *prog, char *buf, size_t len)
{
	char self[PATH_MAX], *slash;
	size_t n, sl = strlen(SBINDIR);
	ssize_t k;

	if ((k = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[k] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			*slash = '\0';
			if (snprintf(buf, len, "%s/%s", self, prog) < (int)len &&
			    access(buf, X_OK) == 0)
				return 0;
			n = strlen(self);
			if (n > sl && strcmp(self + n - sl, SBINDIR) == 0 &&
			    snprintf(buf, len, "%.*s%s/%s", (int)(n - sl), self,
			    PKGLIBEXECDIR, prog) < (int)len && access(buf, X_OK) == 0)
				return 0;
		}
	}
	if (snprintf(buf, len, "%s/%s", PKGLIBEXECDIR, prog) < (int)len &&
	    access(buf, X_OK) == 0)
		return 0;
	return -1;
}

static const char *
level_name(void)
{
	const char *level[] = { "debug", "info", "notice", "warning", "error" };
	enum log_level lvl = log_get_level();

	return (unsigned)lvl < 5 ? level[lvl] : "info";
}

void
worker_exec(const struct pool_config *pc, int ipc_fd)
{
	char path[PATH_MAX], cfgarg[64], fdarg[16];
	size_t i;

	if (snap_fd < 0 || snap_cfg == NULL)
		return;
	for (i = 0; i < snap_cfg->npools; i++)
		if (&snap_cfg->pools[i] == pc)
			break;
	if (i == snap_cfg->npools)
		return;		/* a retired pool's configuration */
	if (prog_path("codeq-worker", path, sizeof(path)) < 0)
		return;
	/* Both descriptors cross the exec; the snapshot is only read. */
	if (fcntl(ipc_fd, F_SETFD, 0) < 0 || fcntl(snap_fd, F_SETFD, 0) < 0)
		return;
	snprintf(cfgarg, sizeof(cfgarg), "/proc/self/fd/%d", snap_fd);
	snprintf(fdarg, sizeof(fdarg), "%d", ipc_fd);
	execl(path, "codeq-worker", "--config", cfgarg, "--pool", pc->name,
	    "--fd", fdarg, "--log-level", level_name(), (char *)NULL);
	log_warning("cannot execute codeq-worker: the worker runs inside "
	    "codeqd", "path", path, "error", strerror(errno));
	fcntl(ipc_fd, F_SETFD, FD_CLOEXEC);
}

void
webhooks_exec(const char *proc, const char *cfg_path, int ipc_fd)
{
	char path[PATH_MAX], cfgarg[PATH_MAX], fdarg[16];

	if (prog_path("codeq-webhooks", path, sizeof(path)) < 0) {
		log_error("codeq-webhooks not found", "dir", PKGLIBEXECDIR);
		return;
	}
	/* The snapshot when there is one; else the file: these children are
	 * restarted at every reload, so they read what the dispatcher read
	 * but for an edit racing the reload. */
	if (snap_fd >= 0 && fcntl(snap_fd, F_SETFD, 0) == 0)
		snprintf(cfgarg, sizeof(cfgarg), "/proc/self/fd/%d", snap_fd);
	else
		snprintf(cfgarg, sizeof(cfgarg), "%s", cfg_path);
	if (fcntl(ipc_fd, F_SETFD, 0) < 0)
		return;
	snprintf(fdarg, sizeof(fdarg), "%d", ipc_fd);
	execl(path, "codeq-webhooks", proc, "--config", cfgarg, "--fd", fdarg,
	    "--log-level", level_name(), (char *)NULL);
	log_error("cannot execute codeq-webhooks", "path", path,
	    "error", strerror(errno));
}
