/*
 * fuzz_smtp_probes.c -- libFuzzer target for the intrusive checks of the
 * SMTP session (VRFY / EXPN and the open-relay test, scanner/smtp_session.c)
 * fed arbitrary server replies.
 *
 * Input: byte 0 picks the checks (bit 0: VRFY, bit 1: relay test, bit 2:
 * DATA), bits 3-5 the end (none, EOF, reset, state timeout, whole-session
 * timeout); the rest is what the server sends, given to the session one
 * line at a time with everything pending sent before each (a server that
 * waits for our commands, so the fuzzer reaches the deep states).
 *
 * Whatever the server says: no crash; the record's strings end in their
 * arrays; the answers are known names or NULL; and what we sent is only our
 * own commands, each RCPT TO naming the test domain, DATA only when asked
 * for, at most once, right after an accepted RCPT TO, followed by a
 * message that ends with "." and carries the tag.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/smtp.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);      \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define NAME "scanner.example.net"
#define DOMAIN "relay-test.example.net"
#define TAG "mhrelay0123456789abcdef"

static struct mh_smtp_session s;
static struct mh_smtp_result res;
static char sent[65536];
static size_t sentlen;

static void send_all(void)
{
	size_t n;
	const char *p = mh_smtp_session_pending(&s, &n);

	CHECK(n <= sizeof(s.out));
	CHECK(sentlen + n < sizeof(sent));
	memcpy(sent + sentlen, p, n);
	sentlen += n;
	sent[sentlen] = '\0';
	mh_smtp_session_sent(&s, n);
}

static void check_str(const char *p, size_t size)
{
	CHECK(memchr(p, '\0', size) != NULL);
}

static bool answer_ok(const char *a)
{
	return a == NULL || !strcmp(a, "discloses") || !strcmp(a, "ambiguous") ||
	       !strcmp(a, "disabled");
}

static bool starts(const char *line, const char *prefix)
{
	return strncmp(line, prefix, strlen(prefix)) == 0;
}

/* What we sent: our commands only, and the message once, where allowed. */
static void check_sent(bool data_allowed)
{
	const char *p = sent;
	bool in_message = false, last_rcpt = false;
	unsigned ndata = 0;

	while (*p) {
		const char *e = strstr(p, "\r\n");
		char line[1100];
		size_t n;

		CHECK(e != NULL); /* every line ends with CR LF */
		n = (size_t)(e - p);
		CHECK(n < sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		p = e + 2;
		CHECK(strchr(line, '\r') == NULL && strchr(line, '\n') == NULL);
		if (in_message) {
			CHECK(n < 998);
			if (!strcmp(line, ".")) {
				in_message = false;
				continue;
			}
			CHECK(line[0] != '.');
			continue;
		}
		if (starts(line, "RCPT TO:")) {
			CHECK(strstr(line, DOMAIN) != NULL);
			last_rcpt = true;
			continue;
		}
		if (!strcmp(line, "DATA")) {
			CHECK(data_allowed);
			CHECK(last_rcpt);
			CHECK(++ndata == 1);
			/* the message follows only after a 354: it may not be there */
			in_message = strncmp(p, "Date: ", 6) == 0;
			if (in_message)
				CHECK(strstr(p, "X-Mailhole-Tag: " TAG "\r\n") != NULL);
			last_rcpt = false;
			continue;
		}
		last_rcpt = false;
		CHECK(!strcmp(line, "EHLO " NAME) || !strcmp(line, "HELO " NAME) ||
		      !strcmp(line, "VRFY root") || !strcmp(line, "EXPN root") ||
		      (starts(line, "VRFY mhnx") && n == 21) || (starts(line, "EXPN mhnx") && n == 21) ||
		      starts(line, "MAIL FROM:<") || !strcmp(line, "RSET") || !strcmp(line, "QUIT"));
	}
	CHECK(!in_message);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mh_smtp_probes p = { 0 };
	unsigned end;
	size_t pos = 1;

	if (size < 1)
		return 0;
	p.vrfy = data[0] & 1;
	p.vrfy_seed = 7;
	if (data[0] & 2) {
		p.relay_domain = DOMAIN;
		p.own_domain = "example.com";
	}
	p.relay_data = (data[0] & 4) != 0;
	p.tag = TAG;
	end = (data[0] >> 3) & 7;
	sentlen = 0;
	sent[0] = '\0';
	mh_smtp_session_init(&s, &res, NAME);
	mh_smtp_session_set_probes(&s, &p, "198.18.0.25");
	while (pos < size) {
		const uint8_t *lf = memchr(data + pos, '\n', size - pos);
		size_t chunk = lf ? (size_t)(lf - (data + pos)) + 1 : size - pos;
		int done;

		send_all();
		done = mh_smtp_session_input(&s, (const char *)data + pos, chunk);
		CHECK(done == (s.state == MH_SMTP_DONE));
		pos += chunk;
	}
	if (end == 1 || end == 2)
		mh_smtp_session_eof(&s, end == 2);
	else if (end == 3 || end == 4)
		mh_smtp_session_timeout(&s, end == 4);
	if (end >= 1 && end <= 4)
		CHECK(s.state == MH_SMTP_DONE);
	send_all();

	check_sent(p.relay_data && p.relay_domain);
	CHECK(strcmp(mh_smtp_state_name(s.state), "UNKNOWN") != 0);
	CHECK(answer_ok(res.vrfy) && answer_ok(res.expn));
	CHECK(res.vrfy_tested || (!res.vrfy && !res.expn));
	CHECK(!res.vrfy_tested || p.vrfy);
	CHECK(!res.relay_tested || p.relay_domain);
	check_str(res.vrfy_bogus, sizeof(res.vrfy_bogus));
	check_str(res.vrfy_detail, sizeof(res.vrfy_detail));
	check_str(res.relay_detail, sizeof(res.relay_detail));
	check_str(res.relay_reply, sizeof(res.relay_reply));
	check_str(res.relay_data_reply, sizeof(res.relay_data_reply));
	check_str(res.relay_mail_from, sizeof(res.relay_mail_from));
	check_str(res.relay_rcpt_to, sizeof(res.relay_rcpt_to));
	for (unsigned q = 0; q < MH_VRFY_Q_COUNT; q++) {
		check_str(res.vrfy_replies[q], sizeof(res.vrfy_replies[q]));
		CHECK(res.vrfy_codes[q] == 0 || (res.vrfy_codes[q] >= 200 && res.vrfy_codes[q] <= 599));
	}
	CHECK(res.relay_nvariants <= MH_RELAY_VARIANTS_MAX);
	CHECK(res.relay_ntried <= res.relay_nvariants);
	CHECK(res.relay_nvariants == MH_RELAY_VARIANTS_MAX || res.relay_nvariants == 0 ||
	      (res.relay_accepted >> res.relay_nvariants) == 0);
	CHECK(!res.relay_data_tried || p.relay_data);
	CHECK(!res.relay_data_tried || (res.relay_accepted & (1u << res.relay_data_variant)));
	if (res.relay_accepted)
		CHECK(strstr(res.relay_rcpt_to, DOMAIN) != NULL);
	/* the checks never make the record's own error */
	CHECK(!(res.vrfy_tested || res.relay_tested) || res.error == NULL);
	return 0;
}
