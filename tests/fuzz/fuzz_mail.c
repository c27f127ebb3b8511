/*
 * fuzz_mail.c -- libFuzzer target for the message and DSN reader
 * (probes/mail.c, mh_mail_parse) and the text pieces it exposes
 * (mh_tag_find, mh_sender_classify).
 *
 * The input is one stored message, copied into a buffer of exactly its size
 * (ASan sees any read past the end). Then:
 *   refused:  MH_EINVAL or MH_ELIMIT, with a non-empty one-line reason;
 *   accepted: a known kind; every string terminated, one line, no control
 *             character, valid UTF-8; counts within their maxima; a tag, if
 *             any, is a valid tag with a known source; and the same input
 *             reads again to the same result, byte for byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_str(const char *s, size_t size)
{
	static char clean[2048];
	size_t n;

	CHECK(memchr(s, '\0', size) != NULL);
	n = strlen(s);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)s[i] >= 0x20 && s[i] != 0x7f);
	if (n < sizeof(clean)) {
		mh_utf8_clean(clean, sizeof(clean), s, n);
		CHECK(strcmp(clean, s) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mh_mail a, b;
	char err[MH_ERRLEN], err2[MH_ERRLEN], tag[MH_TAG_MAX + 1];
	char *copy = malloc(size ? size : 1);
	int rc, rc2;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	err[0] = err2[0] = '\0';
	rc = mh_mail_parse(copy, size, &a, err, sizeof(err));
	if (rc < 0) {
		CHECK(rc == MH_EINVAL || rc == MH_ELIMIT);
		CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
	} else {
		CHECK(rc == 0);
		CHECK(a.kind == MH_MAIL_MESSAGE || a.kind == MH_MAIL_DSN || a.kind == MH_MAIL_BOUNCE);
		check_str(a.tag, sizeof(a.tag));
		check_str(a.tag_source, sizeof(a.tag_source));
		check_str(a.return_path, sizeof(a.return_path));
		check_str(a.from, sizeof(a.from));
		check_str(a.sender, sizeof(a.sender));
		check_str(a.to, sizeof(a.to));
		check_str(a.delivered_to, sizeof(a.delivered_to));
		check_str(a.message_id, sizeof(a.message_id));
		check_str(a.subject, sizeof(a.subject));
		check_str(a.date, sizeof(a.date));
		check_str(a.reporting_mta, sizeof(a.reporting_mta));
		check_str(a.original_envelope_id, sizeof(a.original_envelope_id));
		check_str(a.arrival_date, sizeof(a.arrival_date));
		check_str(a.returned_message_id, sizeof(a.returned_message_id));
		check_str(a.returned_from, sizeof(a.returned_from));
		check_str(a.returned_to, sizeof(a.returned_to));
		check_str(a.excerpt, sizeof(a.excerpt));
		check_str(a.warning, sizeof(a.warning));
		for (unsigned i = 0; i < a.nreceived && i < MH_MAIL_RECEIVED_MAX; i++)
			check_str(a.received[i], sizeof(a.received[i]));
		CHECK(a.nrcpts <= MH_DSN_RCPTS_MAX);
		for (unsigned i = 0; i < a.nrcpts; i++) {
			const struct mh_dsn_rcpt *r = &a.rcpts[i];
			check_str(r->final_recipient, sizeof(r->final_recipient));
			check_str(r->original_recipient, sizeof(r->original_recipient));
			check_str(r->action, sizeof(r->action));
			check_str(r->status, sizeof(r->status));
			check_str(r->diagnostic, sizeof(r->diagnostic));
			check_str(r->remote_mta, sizeof(r->remote_mta));
			check_str(r->will_retry_until, sizeof(r->will_retry_until));
		}
		if (a.tag[0]) {
			CHECK(mh_tag_valid(a.tag, strlen(a.tag)));
			CHECK(a.tag_source[0] != '\0');
		} else {
			CHECK(a.tag_source[0] == '\0');
		}
		(void)mh_sender_classify(a.return_path, "lab.test", NULL);
		(void)mh_sender_classify(a.from, "lab.test", "host-a.lab.test");
	}
	rc2 = mh_mail_parse(copy, size, &b, err2, sizeof(err2));
	CHECK(rc2 == rc);
	CHECK(strcmp(err, err2) == 0);
	if (rc == 0)
		CHECK(memcmp(&a, &b, sizeof(a)) == 0);
	if (mh_tag_find(copy, size, tag, sizeof(tag)))
		CHECK(mh_tag_valid(tag, strlen(tag)));
	free(copy);
	return 0;
}
