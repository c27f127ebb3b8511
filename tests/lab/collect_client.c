/*
 * collect_client.c -- mh-collect-client, the labs' driver of the collector
 * API (include/mailhole/collect.h) against a real server:
 *
 *   mh-collect-client [-u USER] [-p PASSWORD_FILE | -e PASSWORD_ENV] [-k] [-s]
 *                     [-t TIMEOUT_MS] [-a AFTER_UID] [-d KEY]... [-x] [-w MS] URL
 *
 * Opens URL, prints "uidvalidity N", then one line per message handed over
 * by mh_collect_each(after AFTER_UID):
 *   msg KEY UID LENGTH SUBJECT
 * then "skipped N" and "count N"; then deletes each -d KEY ("deleted KEY"),
 * expunges now with -x ("expunged"), and closes. -k: TLS without
 * certificate verification; -s: imap:// with STARTTLS required. -w: wait MS between the open and
 * the listing (the lab changes the mailbox meanwhile). Any failure: "error: MESSAGE" on stderr,
 * exit 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mailhole/collect.h"
#include "mailhole/common.h"

static int print_msg(void *arg, const char *key, uint64_t uid, const char *msg, size_t len)
{
	const char *subj = "-";
	size_t sl = 1;
	char shown[200];

	(void)arg;
	/* the Subject header, plainly (the lab writes simple messages) */
	for (size_t i = 0; i + 8 < len; i++) {
		if ((i == 0 || msg[i - 1] == '\n') && strncasecmp(msg + i, "Subject:", 8) == 0) {
			const char *s = msg + i + 8;
			while (s < msg + len && *s == ' ')
				s++;
			const char *e = s;
			while (e < msg + len && *e != '\r' && *e != '\n')
				e++;
			subj = s;
			sl = (size_t)(e - s);
			break;
		}
		if ((i == 0 || msg[i - 1] == '\n') && (msg[i] == '\n' || msg[i] == '\r'))
			break; /* end of the header */
	}
	mh_sanitize_line(shown, sizeof(shown), subj, sl);
	printf("msg %s %llu %zu %s\n", key, (unsigned long long)uid, len, shown);
	return 0;
}

int main(int argc, char **argv)
{
	struct mh_collect_opts o = {0};
	struct mh_collector *c = NULL;
	const char *pwfile = NULL, *pwenv = NULL;
	const char *dels[16];
	unsigned ndels = 0, skipped = 0;
	uint64_t after = 0;
	char *password = NULL, err[MH_ERRLEN];
	int opt, rc, expunge = 0;
	long wait_ms = 0;

	while ((opt = getopt(argc, argv, "u:p:e:kst:a:d:xw:")) != -1) {
		switch (opt) {
		case 'u':
			o.user = optarg;
			break;
		case 'p':
			pwfile = optarg;
			break;
		case 'e':
			pwenv = optarg;
			break;
		case 'k':
			o.insecure = true;
			break;
		case 's':
			o.starttls = true;
			break;
		case 't':
			o.timeout_ms = strtol(optarg, NULL, 10);
			break;
		case 'a':
			if (mh_parse_u64(optarg, 0, UINT64_MAX, &after) < 0) {
				fprintf(stderr, "error: -a %s: not a number\n", optarg);
				return 2;
			}
			break;
		case 'd':
			if (ndels < 16)
				dels[ndels++] = optarg;
			break;
		case 'x':
			expunge = 1;
			break;
		case 'w':
			wait_ms = strtol(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: mh-collect-client [-u USER] [-p FILE|-e VAR] [-k] "
			                "[-t MS] [-a UID] [-d KEY]... [-x] [-w MS] URL\n");
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "error: one URL expected\n");
		return 2;
	}
	o.url = argv[optind];
	if (pwfile || pwenv) {
		if (mh_collect_password(pwfile, pwenv, &password, err, sizeof(err)) < 0) {
			fprintf(stderr, "error: %s\n", err);
			return 2;
		}
		o.password = password;
	}
	rc = mh_collect_open(&o, &c, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "error: %s\n", err);
		free(password);
		return 2;
	}
	printf("uidvalidity %llu\n", (unsigned long long)mh_collect_uidvalidity(c));
	fflush(stdout);
	if (wait_ms > 0)
		usleep((useconds_t)wait_ms * 1000);
	rc = mh_collect_each(c, after, print_msg, NULL, &skipped, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "error: %s\n", err);
		mh_collect_close(&c);
		free(password);
		return 2;
	}
	printf("skipped %u\ncount %d\n", skipped, rc);
	for (unsigned i = 0; i < ndels; i++) {
		if (mh_collect_delete(c, dels[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "error: %s\n", err);
			mh_collect_close(&c);
			free(password);
			return 2;
		}
		printf("deleted %s\n", dels[i]);
	}
	if (expunge) {
		if (mh_collect_expunge(c, err, sizeof(err)) < 0) {
			fprintf(stderr, "error: %s\n", err);
			mh_collect_close(&c);
			free(password);
			return 2;
		}
		printf("expunged\n");
	}
	fflush(stdout);
	mh_collect_close(&c);
	free(password);
	return 0;
}
