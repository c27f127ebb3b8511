/*
 * fuzz_doc.c -- libFuzzer target for documents: arbitrary bytes through the
 * loader (report/doc.c), then, when they load, through merge, summary and
 * diff and the JUnit, SARIF and text renderers.
 *
 * The input is written to a memfd and loaded by its /proc path, as a file
 * would be. A document that loads is merged with itself and alone, diffed
 * against the merge, and rendered; the renderers' outputs are checked:
 * the JUnit file holds no byte XML 1.0 forbids (C0 controls other than TAB,
 * LF, CR; U+FFFE, U+FFFF) and is valid UTF-8, the SARIF file parses back
 * as JSON, the text summary carries no control byte but LF. Outputs go to a
 * private directory under /tmp, removed at exit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mailhole/common.h"
#include "mailhole/render.h"
#include "mailhole/rules.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char memfd_path[64];
static char dir[64];
static char junit_path[96], sarif_path[96];

static void cleanup(void)
{
	unlink(junit_path);
	unlink(sarif_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfd = memfd_create("fuzz_doc", MFD_CLOEXEC);
	if (memfd < 0)
		abort();
	snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	mh_strlcpy(dir, "/tmp/fuzz_doc.XXXXXX", sizeof(dir));
	if (!mkdtemp(dir))
		abort();
	snprintf(junit_path, sizeof(junit_path), "%s/out.xml", dir);
	snprintf(sarif_path, sizeof(sarif_path), "%s/out.sarif", dir);
	atexit(cleanup);
	return 0;
}

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_doc: invariant broken: %s\n", what);
		abort();
	}
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;

	check(f != NULL, "output written");
	*len = 0;
	for (;;) {
		if (*len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			check(buf != NULL, "realloc");
		}
		size_t n = fread(buf + *len, 1, cap - *len - 1, f);
		*len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static void check_xml(const char *s, size_t len)
{
	char *cleaned;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		check(c >= 0x20 || c == '\t' || c == '\n' || c == '\r', "XML: no control byte");
		check(!(c == 0xef && i + 2 < len && (unsigned char)s[i + 1] == 0xbf &&
		        ((unsigned char)s[i + 2] & 0xfe) == 0xbe),
		      "XML: no U+FFFE/U+FFFF");
	}
	/* valid UTF-8: cleaning changes nothing */
	cleaned = malloc(len * 3 + 1);
	check(cleaned != NULL, "malloc");
	check(mh_utf8_clean(cleaned, len * 3 + 1, s, len) == len && memcmp(cleaned, s, len) == 0,
	      "XML: valid UTF-8");
	free(cleaned);
}

static void render(struct json_object *doc)
{
	char err[MH_ERRLEN];
	size_t len;
	char *out;
	FILE *devnull;

	check(mh_render_junit(doc, junit_path, err, sizeof(err)) == 0, "junit written");
	out = slurp(junit_path, &len);
	check_xml(out, len);
	free(out);

	check(mh_render_sarif(doc, sarif_path, err, sizeof(err)) == 0, "sarif written");
	out = slurp(sarif_path, &len);
	{
		struct json_object *s = json_tokener_parse(out);
		check(s != NULL, "SARIF parses");
		json_object_put(s);
	}
	free(out);

	{
		char *t = NULL;
		size_t tl = 0;
		FILE *m = open_memstream(&t, &tl);
		check(m != NULL, "memstream");
		mh_render_text(doc, m, false);
		fclose(m);
		for (size_t i = 0; i < tl; i++)
			check((unsigned char)t[i] >= 0x20 || t[i] == '\n', "text: no control byte");
		free(t);
	}
	devnull = fopen("/dev/null", "w");
	if (devnull) {
		mh_render_text(doc, devnull, true);
		fclose(devnull);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *doc = NULL, *merged = NULL, *diff = NULL, *two[2];
	char err[MH_ERRLEN];
	unsigned failing;

	if (ftruncate(memfd, 0) < 0 || (size > 0 && pwrite(memfd, data, size, 0) != (ssize_t)size))
		abort();
	err[0] = '\0';
	if (mh_doc_load(memfd_path, &doc, err, sizeof(err)) < 0) {
		check(doc == NULL, "no document on error");
		check(memchr(err, '\0', sizeof(err)) != NULL && err[0], "error said");
		return 0;
	}
	render(doc);
	two[0] = two[1] = doc;
	check(mh_doc_merge(two, 2, &merged, err, sizeof(err)) == 0, "merge with itself");
	check(mh_doc_diff(doc, merged, MH_SEV_INFO, &diff, &failing, err, sizeof(err)) == 0,
	      "diff");
	json_object_put(diff);
	render(merged);
	json_object_put(merged);
	check(mh_doc_merge(&doc, 1, &merged, err, sizeof(err)) == 0, "merge alone");
	mh_doc_summarize(merged);
	json_object_put(merged);
	json_object_put(doc);
	return 0;
}
