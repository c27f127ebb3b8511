/*
 * fuzz_queue_command.c -- libFuzzer target for the command-line classifier
 * of probes/local_queue.c (mh_queue_command), which reads crontab lines,
 * cron scripts and systemd ExecStart= lines.
 *
 * The input is one line of text (any bytes). The answer must use only the
 * MH_QR_* bits, be the same when asked again, and the same for a copy of
 * the line in a buffer of exactly its size (no read past the end: ASan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/local.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned all =
	    MH_QR_MQUEUE | MH_QR_CLIENT | MH_QR_POSTFIX | MH_QR_EXIM | MH_QR_OPENSMTPD;
	char *copy = malloc(size ? size : 1);
	unsigned a, b;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	a = mh_queue_command((const char *)data, size);
	b = mh_queue_command(copy, size);
	if ((a & ~all) || a != b)
		abort();
	free(copy);
	return 0;
}
