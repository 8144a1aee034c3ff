/* version.c: the library's version, for callers that link dynamically and
 * want to check the header they compiled against matches the library. */
#include "config.h"
#include "codeq.h"

const char *
codeq_version(void)
{
	return PACKAGE_VERSION;
}
