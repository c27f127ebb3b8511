/*
 * mailparse_bench.c -- how many stored messages a second mh_mail_parse reads
 * (issue 4: "parsing 10,000 collected messages").
 *
 *   mailhole_bench_mail [DIR] [N]
 *
 * Loads every *.eml of DIR (default: the repository's tests/fixtures/mail,
 * real Postfix DSNs and arrived probes plus their derived variants; give
 * DIR/broken for the damaged ones), then parses N messages (default 10,000) taking the files in
 * turn, after one untimed warm-up pass. Prints messages a second, MB a
 * second and the mix. Built only on request:
 *   cmake --build build --target mailhole_bench_mail
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/mail.h"

#ifndef MH_SOURCE_DIR
#define MH_SOURCE_DIR "."
#endif
#define FILES_MAX 256

struct msg {
	char *buf;
	size_t len;
};

static unsigned load_dir(const char *dir, struct msg *v, unsigned n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[1024], err[MH_ERRLEN];

	if (!d)
		return n;
	while ((e = readdir(d)) && n < FILES_MAX) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".eml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (mh_read_file(path, MH_MAIL_MAX, &v[n].buf, &v[n].len, err, sizeof(err)) < 0) {
			fprintf(stderr, "mailparse_bench: %s\n", err);
			continue;
		}
		n++;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : MH_SOURCE_DIR "/tests/fixtures/mail";
	uint64_t n = 10000, t0, t1, bytes = 0;
	static struct msg v[FILES_MAX];
	struct mh_mail *m = malloc(sizeof(*m));
	char err[MH_ERRLEN];
	unsigned nf, ok = 0, bad = 0, dsn = 0;
	double s;

	if (argc > 2 && mh_parse_u64(argv[2], 1, 100000000, &n) < 0) {
		fprintf(stderr, "usage: mailparse_bench [DIR] [N]\n");
		return 2;
	}
	nf = load_dir(dir, v, 0);
	if (nf == 0 || !m) {
		fprintf(stderr, "mailparse_bench: no *.eml in %s\n", dir);
		return 2;
	}
	for (unsigned i = 0; i < nf; i++)
		(void)mh_mail_parse(v[i].buf, v[i].len, m, err, sizeof(err));
	t0 = mh_now_ns();
	for (uint64_t i = 0; i < n; i++) {
		const struct msg *x = &v[i % nf];
		int rc = mh_mail_parse(x->buf, x->len, m, err, sizeof(err));
		bytes += x->len;
		if (rc < 0) {
			bad++;
		} else {
			ok++;
			dsn += m->kind == MH_MAIL_DSN;
		}
	}
	t1 = mh_now_ns();
	s = (double)(t1 - t0) / 1e9;
	printf("mailparse_bench: %llu messages (%u files, %.1f KiB on average: %u read, %u DSN, "
	       "%u refused) in %.3f s: %.0f messages/s, %.1f MB/s\n",
	       (unsigned long long)n, nf, (double)bytes / (double)n / 1024.0, ok, dsn, bad, s,
	       (double)n / s, (double)bytes / s / 1e6);
	for (unsigned i = 0; i < nf; i++)
		free(v[i].buf);
	free(m);
	return 0;
}
