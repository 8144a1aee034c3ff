/*
 * ipc_fuzzer.c - libFuzzer target for the IPC decoder.  Not built by make
 * (it needs clang); build and run it with:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ilib -I. \
 *       tests/fuzz/ipc_fuzzer.c common/ipc.c $(pkg-config --libs msgpack) -o ipc_fuzzer
 *   ./ipc_fuzzer -max_len=4096 -runs=1000000
 *
 * (-I. must find a config.h: any configured build directory has one.)
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ipc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[IPC_MAX_FRAME], err[128];
	struct ipc_msg m;
	size_t len;

	if (ipc_decode((const char *)data, size, &m, err, sizeof(err)) == IPC_OK &&
	    ipc_encode(&m, out, sizeof(out), &len) != IPC_OK)
		abort();	/* whatever is accepted must encode again */
	return 0;
}
