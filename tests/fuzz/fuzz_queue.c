/*
 * fuzz_queue.c -- libFuzzer target for the relay queue readers
 * (probes/queue.c): Postfix `postqueue -j`, Sendmail `mailq`, Exim `exim -bp`.
 *
 * The input is parsed as a listing of each format in turn (detected, then
 * each one named), then its waiting recipients are grouped. Checked:
 *   - an error is one non-empty line that starts with the input's name and
 *     "line N:", and the queue read before it is still there (only a
 *     listing whose format cannot be detected gives no queue);
 *   - every string of the model is NUL-terminated within its cap, every
 *     domain is lower case, every class is in range, Exim's delivered
 *     recipients never wait;
 *   - the groups account for every waiting recipient exactly once, each
 *     with messages <= recipients, and are sorted;
 *   - the same input parses again to the same answer.
 * No name is resolved here: grouping only reads addresses from reasons.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_queue(const struct mh_queue *q)
{
	for (size_t i = 0; i < q->nmsgs; i++) {
		const struct mh_queue_msg *m = &q->msgs[i];
		if (!m->id || !m->queue || !m->sender || strlen(m->id) > MH_QUEUE_FIELD_MAX ||
		    strlen(m->sender) > MH_QUEUE_FIELD_MAX || m->line == 0 || m->line > q->lines)
			abort();
		for (size_t k = 0; k < m->nrcpts; k++) {
			const struct mh_queue_rcpt *r = &m->rcpts[k];
			if (!r->address || !r->domain || strlen(r->address) > MH_QUEUE_FIELD_MAX ||
			    (unsigned)r->why >= MH_QREASON_COUNT)
				abort();
			for (const char *c = r->domain; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					abort();
			if (r->reason && strlen(r->reason) > MH_QUEUE_FIELD_MAX)
				abort();
		}
	}
}

static void check_groups(const struct mh_queue *q)
{
	struct mh_queue_dest *d = NULL;
	size_t n = 0, waiting = 0, grouped = 0;

	if (mh_queue_group(q, &d, &n) < 0)
		return; /* out of memory */
	for (size_t i = 0; i < q->nmsgs; i++)
		for (size_t k = 0; k < q->msgs[i].nrcpts; k++)
			waiting += !q->msgs[i].rcpts[k].delivered &&
			           q->msgs[i].rcpts[k].why != MH_QREASON_NONE;
	for (size_t i = 0; i < n; i++) {
		unsigned sum = 0;
		for (int c = 0; c < MH_QREASON_COUNT; c++)
			sum += d[i].by_reason[c];
		if (sum != d[i].recipients || d[i].messages > d[i].recipients ||
		    d[i].messages == 0 || d[i].by_reason[MH_QREASON_NONE] != 0 ||
		    d[i].by_reason[d[i].why] == 0)
			abort();
		if (i && (d[i - 1].recipients < d[i].recipients ||
		          (d[i - 1].recipients == d[i].recipients &&
		           strcmp(d[i - 1].domain, d[i].domain) >= 0)))
			abort();
		grouped += d[i].recipients;
	}
	if (grouped != waiting)
		abort();
	mh_queue_dests_free(&d, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum mh_queue_format fmts[] = {MH_QUEUE_AUTO, MH_QUEUE_POSTFIX_JSON,
	                                            MH_QUEUE_SENDMAIL_MAILQ, MH_QUEUE_EXIM};

	for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
		char err[MH_ERRLEN] = "", err2[MH_ERRLEN] = "";
		struct mh_queue *q = NULL, *q2 = NULL;
		int rc = mh_queue_parse((const char *)data, size, fmts[f], "fuzz", 1800000000, &q,
		                        err, sizeof(err));
		int rc2;
		if (rc < 0 && rc != MH_ENOMEM) {
			if (!err[0] || strchr(err, '\n') || strncmp(err, "fuzz line ", 10) != 0)
				abort();
			if (!q && !(fmts[f] == MH_QUEUE_AUTO &&
			            mh_queue_detect((const char *)data, size) == MH_QUEUE_AUTO))
				abort();
		} else if (rc == 0 && !q) {
			abort();
		}
		if (q) {
			if (fmts[f] != MH_QUEUE_AUTO && q->format != fmts[f])
				abort();
			check_queue(q);
			check_groups(q);
		}
		rc2 = mh_queue_parse((const char *)data, size, fmts[f], "fuzz", 1800000000, &q2,
		                     err2, sizeof(err2));
		if (rc2 != rc || strcmp(err, err2) != 0 || (q && q2 && q->nmsgs != q2->nmsgs))
			abort();
		mh_queue_free(&q);
		mh_queue_free(&q2);
	}
	/* the small pieces over the same bytes */
	{
		struct mh_addr a;
		enum mh_queue_reason r = mh_queue_classify((const char *)data, size);
		if ((unsigned)r >= MH_QREASON_COUNT || (size && r == MH_QREASON_NONE))
			abort();
		(void)mh_queue_reason_addr((const char *)data, size, &a);
	}
	return 0;
}
