/*
 * text.c -- the document as a summary for a terminal: the counts, then the
 * findings grouped by severity, most severe first (host, rule, evidence).
 *
 * A terminal obeys what it is sent, so every string of the document is made
 * safe before it is printed: valid UTF-8 again, then every C0 control (ESC
 * above all: no escape sequence of a banner ever reaches the terminal), DEL,
 * the C1 controls (U+0080..U+009F: U+009B is a CSI to some terminals) and
 * the bidirectional overrides and isolates (which reorder what is shown)
 * become '?'. Newlines and tabs become spaces: one finding, one line.
 * Colour (ANSI SGR) is ours only, and only when asked for.
 */
#include "mailhole/render.h"

#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/rules.h"

#define SGR_RESET "\x1b[0m"
#define SGR_BOLD  "\x1b[1m"

static const char *const sev_colour[MH_SEV_COUNT + 1] = {
    "\x1b[1;35m", /* critical: bold magenta */
    "\x1b[1;31m", /* high: bold red */
    "\x1b[33m",   /* medium: yellow */
    "\x1b[36m",   /* low: cyan */
    "\x1b[2m",    /* info: dim */
    "\x1b[2m",    /* unknown severity */
};

/* Length of the code point at s (valid UTF-8) that must not reach a terminal; 0 if none. */
static size_t unsafe_seq(const unsigned char *s, size_t left)
{
	if (s[0] < 0x20 || s[0] == 0x7f)
		return 1;
	if (s[0] == 0xc2 && left >= 2 && s[1] >= 0x80 && s[1] <= 0x9f)
		return 2; /* C1 controls */
	if (s[0] == 0xe2 && left >= 3) {
		/* U+202A..U+202E (embeddings, overrides), U+2066..U+2069 (isolates) */
		if (s[1] == 0x80 && s[2] >= 0xaa && s[2] <= 0xae)
			return 3;
		if (s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9)
			return 3;
	}
	return 0;
}

/* Prints len bytes of untrusted text, made safe for a terminal. */
static void put_safe(FILE *f, const char *s, size_t len)
{
	size_t cap = len * 3 + 1;
	char stackbuf[1024];
	char *clean = cap <= sizeof(stackbuf) ? stackbuf : malloc(cap);
	size_t n;

	if (!clean)
		return;
	n = mh_utf8_clean(clean, cap, s, len);
	for (size_t i = 0; i < n;) {
		size_t bad = unsafe_seq((const unsigned char *)clean + i, n - i);
		size_t run = 0;

		if (bad) {
			char c = clean[i];
			fputc(c == '\n' || c == '\t' || c == '\r' ? ' ' : '?', f);
			i += bad;
			continue;
		}
		while (i + run < n &&
		       !unsafe_seq((const unsigned char *)clean + i + run, n - i - run))
			run++;
		fwrite(clean + i, 1, run, f);
		i += run;
	}
	if (clean != stackbuf)
		free(clean);
}

/* Prints obj.key made safe, or dflt. */
static void put_field(FILE *f, struct json_object *obj, const char *key, const char *dflt)
{
	size_t len;
	const char *s = mh_doc_string(obj, key, &len);

	if (s)
		put_safe(f, s, len);
	else
		fputs(dflt, f);
}

/*
 * The counts, from the hosts themselves rather than from "summary": the
 * header then always agrees with the list below it, whoever wrote the file.
 */
static void header(FILE *f, struct json_object *doc, bool color)
{
	struct json_object *hosts = mh_doc_array(doc, "hosts"), *scan = NULL, *v;
	size_t nh = hosts ? json_object_array_length(hosts) : 0, open = 0;
	size_t counts[MH_SEV_COUNT + 1] = {0};

	for (size_t i = 0; i < nh; i++) {
		struct json_object *h = json_object_array_get_idx(hosts, i);
		struct json_object *ports = mh_doc_array(h, "ports");
		struct json_object *fs = mh_doc_array(h, "findings");

		for (size_t k = 0, n = ports ? json_object_array_length(ports) : 0; k < n; k++) {
			const char *st =
			    mh_doc_string(json_object_array_get_idx(ports, k), "state", NULL);
			open += st && strcmp(st, "open") == 0;
		}
		for (size_t k = 0, n = fs ? json_object_array_length(fs) : 0; k < n; k++)
			counts[mh_doc_severity(json_object_array_get_idx(fs, k))]++;
	}
	fprintf(f, "%smailhole%s: %zu hosts, %zu open ports\nfindings:", color ? SGR_BOLD : "",
	        color ? SGR_RESET : "", nh, open);
	for (int s = 0; s < MH_SEV_COUNT; s++) {
		fputs(s ? ", " : " ", f);
		if (color && counts[s])
			fputs(sev_colour[s], f);
		fprintf(f, "%zu %s", counts[s], mh_severity_name(s));
		if (color && counts[s])
			fputs(SGR_RESET, f);
	}
	fputc('\n', f);
	json_object_object_get_ex(doc, "scan", &scan);
	if (json_object_is_type(scan, json_type_object)) {
		fputs("scan: ", f);
		put_field(f, scan, "command", "?");
		fputs(", ", f);
		put_field(f, scan, "started", "?");
		fputs(" .. ", f);
		put_field(f, scan, "finished", "?");
		if (json_object_object_get_ex(scan, "complete", &v) &&
		    json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v))
			fprintf(f, " %s(incomplete)%s", color ? sev_colour[MH_SEV_HIGH] : "",
			        color ? SGR_RESET : "");
		fputc('\n', f);
	}
}

/* One line per finding of severity sev; returns how many. */
static size_t group(FILE *f, struct json_object *hosts, int sev, bool color, bool print)
{
	size_t nh = hosts ? json_object_array_length(hosts) : 0, count = 0;

	for (size_t i = 0; i < nh; i++) {
		struct json_object *h = json_object_array_get_idx(hosts, i);
		struct json_object *findings = mh_doc_array(h, "findings");
		struct json_object *names = mh_doc_array(h, "names");
		struct json_object *first = names ? json_object_array_get_idx(names, 0) : NULL;
		size_t nf = findings ? json_object_array_length(findings) : 0;

		for (size_t k = 0; k < nf; k++) {
			struct json_object *fd = json_object_array_get_idx(findings, k);
			size_t el;

			if (mh_doc_severity(fd) != sev)
				continue;
			count++;
			if (!print)
				continue;
			fputs("  ", f);
			put_field(f, h, "addr", "?");
			if (json_object_is_type(first, json_type_string)) {
				fputs(" (", f);
				put_safe(f, json_object_get_string(first),
				         (size_t)json_object_get_string_len(first));
				fputc(')', f);
			}
			fputs("  ", f);
			if (color)
				fputs(sev_colour[sev], f);
			put_field(f, fd, "id", "?");
			if (color)
				fputs(SGR_RESET, f);
			if (mh_doc_string(fd, "evidence", &el) && el) {
				fputs(": ", f);
				put_field(f, fd, "evidence", "");
			}
			fputc('\n', f);
		}
	}
	return count;
}

int mh_render_text(struct json_object *doc, FILE *f, bool color)
{
	struct json_object *hosts = mh_doc_array(doc, "hosts");
	size_t total = 0;

	header(f, doc, color);
	for (int s = 0; s <= MH_SEV_COUNT; s++) {
		size_t n = group(f, hosts, s, color, false);

		if (n == 0)
			continue;
		total += n;
		fputc('\n', f);
		if (color)
			fputs(sev_colour[s], f);
		fprintf(f, "%s (%zu)", s < MH_SEV_COUNT ? mh_severity_name(s) : "unknown severity",
		        n);
		if (color)
			fputs(SGR_RESET, f);
		fputc('\n', f);
		group(f, hosts, s, color, true);
	}
	if (total == 0)
		fputs("\nno findings\n", f);
	fflush(f);
	return ferror(f) ? MH_EIO : 0;
}
