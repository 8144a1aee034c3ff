/* error.c: status codes and their messages. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "codeq.h"
#include "store.h"

int
cq_err(codeq_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

const char *
codeq_strerror(int code)
{
	switch (code) {
	case CODEQ_OK:		return "ok";
	case CODEQ_EINVAL:	return "invalid argument";
	case CODEQ_ENOTFOUND:	return "not found";
	case CODEQ_ESTALE:	return "stale lease token";
	case CODEQ_ESTATE:	return "wrong task state";
	case CODEQ_EEMPTY:	return "nothing to claim";
	case CODEQ_ETOOBIG:	return "too big";
	case CODEQ_ESTORE:	return "store unavailable";
	case CODEQ_EPROTO:	return "unexpected answer from the store";
	case CODEQ_ENOMEM:	return "out of memory";
	case CODEQ_ETIMEDOUT:	return "timed out";
	case CODEQ_EAUTH:	return "the store refused the password";
	default:		return "unknown error";
	}
}

static const char *const status_names[] = {
	[CODEQ_READY] = "ready",
	[CODEQ_DELAYED] = "delayed",
	[CODEQ_LEASED] = "leased",
	[CODEQ_COMPLETED] = "completed",
	[CODEQ_FAILED] = "failed",
	[CODEQ_DEAD] = "dead",
	[CODEQ_STATUS_UNKNOWN] = "unknown",
};

const char *
codeq_status_name(codeq_task_status s)
{
	if ((unsigned)s > CODEQ_STATUS_UNKNOWN)
		s = CODEQ_STATUS_UNKNOWN;
	return status_names[s];
}
