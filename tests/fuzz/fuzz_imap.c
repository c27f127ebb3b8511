/*
 * fuzz_imap.c -- libFuzzer target for the two IMAP answers the collector
 * parses itself (probes/collect_imap.c): EXAMINE's "* OK [UIDVALIDITY n]"
 * and the "UID FETCH a:* (UID RFC822.SIZE)" listing.
 *
 * Input: byte 0 is after_uid's low byte (0..255), the rest the server's
 * answer. Checked on every input: the listing is sorted, each UID once, in
 * 1..2^32-1 and > after_uid; an error leaves no list and one line in err;
 * a found UIDVALIDITY is in 1..2^32-1. The answer is parsed from a copy of
 * exactly its length, so ASan catches any read past it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/collect.h"
#include "mailhole/common.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mh_imap_msg *m = NULL;
	size_t n = 99;
	uint64_t after, v;
	char err[MH_ERRLEN] = "", *buf;
	int rc;

	if (size < 1)
		return 0;
	after = data[0];
	buf = malloc(size - 1 ? size - 1 : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);

	rc = mh_imap_parse_fetch_list(buf, size - 1, after, &m, &n, err, sizeof(err));
	if (rc < 0) {
		CHECK(rc == MH_EPROTO || rc == MH_ENOMEM);
		CHECK(m == NULL && n == 0);
		CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
	} else {
		CHECK(rc == 0);
		CHECK((n == 0) == (m == NULL));
		for (size_t i = 0; i < n; i++) {
			CHECK(m[i].uid > after && m[i].uid <= 4294967295u);
			CHECK(i == 0 || m[i - 1].uid < m[i].uid);
		}
		free(m);
	}

	v = 12345;
	rc = mh_imap_parse_uidvalidity(buf, size - 1, &v);
	if (rc == 0)
		CHECK(v >= 1 && v <= 4294967295u);
	else
		CHECK(rc == MH_EPROTO && v == 0);
	free(buf);
	return 0;
}
