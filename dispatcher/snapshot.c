/*
 * snapshot.c - the configuration codeqd runs, as one copy in a memfd.
 *
 * Every child must run exactly the configuration the dispatcher runs,
 * not whatever the file says by the time it starts (it may have been
 * edited without a SIGHUP yet).  So each (re)load first copies the file
 * into a memfd and then parses that copy: what the dispatcher checked
 * and what its children read (/proc/self/fd/N, inherited across their
 * exec: children.c) are the same bytes.  Messages still name the file
 * and its lines.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "codeqd.h"
#include "conf.h"

#define SNAPSHOT_MAX (4 * 1024 * 1024)

/* Copies in into out; -1 with errno on a read or write error or past
 * SNAPSHOT_MAX (EFBIG). */
static int
copy_all(int in, int out)
{
	char buf[65536];
	size_t total = 0;
	ssize_t n;

	while ((n = read(in, buf, sizeof(buf))) > 0) {
		total += (size_t)n;
		if (total > SNAPSHOT_MAX) {
			errno = EFBIG;
			return -1;
		}
		if (write(out, buf, (size_t)n) != n)
			return -1;
	}
	return n < 0 ? -1 : 0;
}

/* A memfd holding the bytes of path; -1 with "path: why" in err. */
static int
snapshot_file(const char *path, char *err, size_t errlen)
{
	int in, out = -1;

	if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		goto fail;
	if ((out = memfd_create("codeq.conf", MFD_CLOEXEC)) < 0 ||
	    copy_all(in, out) < 0)
		goto fail;
	close(in);
	return out;
fail:
	snprintf(err, errlen, "%s: cannot %s: %s", path, in < 0 ? "open" :
	    "copy", strerror(errno));
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return -1;
}

int
snapshot_load(const char *path, struct codeq_config *cfg, int *fd,
    char *err, size_t errlen)
{
	int snap;

	if ((snap = snapshot_file(path, err, errlen)) < 0)
		return -1;
	if (config_load_fd(snap, path, cfg, err, errlen) < 0) {
		close(snap);
		return -1;
	}
	*fd = snap;
	return 0;
}
