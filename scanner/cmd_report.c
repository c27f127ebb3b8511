/*
 * cmd_report.c -- `mailhole report` and `mailhole diff`: documents in,
 * documents and reports out, no network.
 *
 *   mailhole report IN.json... [-o MERGED.json] [--html FILE] [--baseline OLD.json]
 *                   [--junit FILE] [--sarif FILE] [--text] [--fail-on SEVERITY]
 *   mailhole diff OLD.json NEW.json [--fail-on SEVERITY] [-o FILE.json]
 *
 * report merges every input (shards, runs, local audits) into one fleet
 * document and writes what was asked; with no output named it prints the
 * text summary. diff compares two documents' findings by host and rule.
 * Exit codes as CONTRACT.md: 0, 1 findings (report: any in the merged
 * document; diff: a new one) at or above --fail-on, 2 bad usage or input,
 * 3 a write failed (every other output is still written).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailhole/cli.h"
#include "mailhole/common.h"
#include "mailhole/render.h"
#include "mailhole/report.h"
#include "mailhole/rules.h"

struct report_opts {
	const char **inputs; /* argv entries (borrowed) */
	size_t ninputs;
	const char *out_json;
	const char *html;
	const char *baseline;
	const char *junit;
	const char *sarif;
	bool text;
	int fail_on; /* enum mh_severity; MH_SEV_COUNT = none */
};

static int usage_error(const char *msg)
{
	fprintf(stderr, "mailhole: %s\n", msg);
	return MH_EXIT_USAGE;
}

/* A --fail-on value: a severity, or "none". */
static int parse_fail_on(const char *v, int pos, char *err, size_t errlen, int *out)
{
	int s = mh_fail_on_parse(v);

	if (s < 0)
		return mh_err(err, errlen, MH_EINVAL,
		              "option --fail-on '%s' (argument %d): not one of critical, high, "
		              "medium, low, info, none",
		              v, pos);
	*out = s;
	return 0;
}

/*
 * The option at argv[*i]: its name (before '=' for --opt=value) and value.
 * Returns 1 when it is an option that takes a value and *value is set, 0 when
 * argv[*i] is no such option, or a negative code (err) when the value is missing.
 */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **value, char *err,
                     size_t errlen)
{
	const char *a = argv[*i];
	size_t l = strlen(name);

	if (strncmp(a, name, l) != 0)
		return 0;
	if (a[l] == '=' && name[1] == '-') {
		*value = a + l + 1;
		return 1;
	}
	if (a[l] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return mh_err(err, errlen, MH_EINVAL, "option %s (argument %d): needs a value",
		              name, *i);
	*value = argv[++*i];
	return 1;
}

static int parse_report(struct report_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	static const char *const valued[] = {"-o",      "--output", "--html",    "--baseline",
	                                     "--junit", "--sarif",  "--fail-on", NULL};

	o->inputs = calloc((size_t)argc + 1, sizeof(*o->inputs));
	if (!o->inputs)
		return mh_err(err, errlen, MH_ENOMEM, "out of memory");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		int pos = i, rc = 0, k;

		if (a[0] != '-' || strcmp(a, "-") == 0) {
			o->inputs[o->ninputs++] = a;
			continue;
		}
		if (!strcmp(a, "--text")) {
			o->text = true;
			continue;
		}
		for (k = 0; valued[k]; k++) {
			rc = opt_value(argc, argv, &i, valued[k], &v, err, errlen);
			if (rc != 0)
				break;
		}
		if (rc < 0)
			return rc;
		if (!valued[k])
			return mh_err(err, errlen, MH_EINVAL,
			              "option '%s' (argument %d): unknown; try mailhole --help", a,
			              pos);
		if (!*v)
			return mh_err(err, errlen, MH_EINVAL,
			              "option %s (argument %d): empty value", valued[k], pos);
		switch (k) {
		case 0:
		case 1:
			o->out_json = v;
			break;
		case 2:
			o->html = v;
			break;
		case 3:
			o->baseline = v;
			break;
		case 4:
			o->junit = v;
			break;
		case 5:
			o->sarif = v;
			break;
		default:
			if ((rc = parse_fail_on(v, pos, err, errlen, &o->fail_on)) < 0)
				return rc;
			break;
		}
	}
	if (o->ninputs == 0)
		return mh_err(err, errlen, MH_EINVAL,
		              "report (argument 1): needs at least one document (IN.json...)");
	return 0;
}

/* Findings of doc at or above fail_on. */
static size_t count_failing(struct json_object *doc, int fail_on)
{
	struct json_object *hosts = mh_doc_array(doc, "hosts");
	size_t n = 0, nh = hosts ? json_object_array_length(hosts) : 0;

	for (size_t i = 0; i < nh; i++) {
		struct json_object *f =
		    mh_doc_array(json_object_array_get_idx(hosts, i), "findings");
		for (size_t k = 0, nf = f ? json_object_array_length(f) : 0; k < nf; k++) {
			int sev = mh_doc_severity(json_object_array_get_idx(f, k));
			if (fail_on < MH_SEV_COUNT && sev <= fail_on)
				n++;
		}
	}
	return n;
}

/* Writes a json-c tree as a pretty document with a final newline, atomically. */
static int write_json(struct json_object *o, const char *path, char *err, size_t errlen)
{
	const char *text = json_object_to_json_string_ext(
	    o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len;
	char *buf;
	int rc;

	if (!text)
		return mh_err(err, errlen, MH_ENOMEM, "output '%s': out of memory", path);
	len = strlen(text);
	buf = malloc(len + 2);
	if (!buf)
		return mh_err(err, errlen, MH_ENOMEM, "output '%s': out of memory", path);
	memcpy(buf, text, len);
	buf[len] = '\n';
	rc = mh_write_file_atomic(path, buf, len + 1, err, errlen);
	free(buf);
	return rc;
}

static bool want_color(void)
{
	const char *nc = getenv("NO_COLOR");

	return isatty(STDOUT_FILENO) && !(nc && *nc);
}

/* Prints the counts of a diff, and its new findings one a line. */
static void print_diff(struct json_object *d, FILE *f, const char *since)
{
	struct json_object *added = mh_doc_array(d, "new");
	struct json_object *fixed = mh_doc_array(d, "fixed");
	struct json_object *same = mh_doc_array(d, "unchanged");
	size_t na = added ? json_object_array_length(added) : 0;

	fprintf(f, "%s: %zu new, %zu fixed, %zu unchanged\n", since, na,
	        fixed ? json_object_array_length(fixed) : 0,
	        same ? json_object_array_length(same) : 0);
	/* the items hold document strings: through the text renderer's cleaning */
	for (size_t i = 0; i < na; i++) {
		struct json_object *it = json_object_array_get_idx(added, i);
		char addr[128], id[96], sev[16], title[160];
		const char *s;
		size_t l;

		s = mh_doc_string(it, "addr", &l);
		mh_sanitize_line(addr, sizeof(addr), s ? s : "?", s ? l : 1);
		s = mh_doc_string(it, "id", &l);
		mh_sanitize_line(id, sizeof(id), s ? s : "?", s ? l : 1);
		s = mh_doc_string(it, "severity", &l);
		mh_sanitize_line(sev, sizeof(sev), s ? s : "?", s ? l : 1);
		s = mh_doc_string(it, "title", &l);
		mh_sanitize_line(title, sizeof(title), s ? s : "", s ? l : 0);
		fprintf(f, "  new  %-8s %s  %s  %s\n", sev, addr, id, title);
	}
}

int mh_cmd_report(int argc, char **argv)
{
	struct report_opts o = {.fail_on = MH_SEV_HIGH};
	struct json_object **docs = NULL, *merged = NULL, *baseline = NULL;
	char err[MH_ERRLEN] = "";
	int code = MH_EXIT_OK;
	size_t loaded = 0;

	if (parse_report(&o, argc, argv, err, sizeof(err)) < 0) {
		free(o.inputs);
		return usage_error(err);
	}
	docs = calloc(o.ninputs, sizeof(*docs));
	if (!docs) {
		fprintf(stderr, "mailhole: out of memory\n");
		code = MH_EXIT_RUNTIME;
		goto out;
	}
	for (; loaded < o.ninputs; loaded++) {
		if (mh_doc_load(o.inputs[loaded], &docs[loaded], err, sizeof(err)) < 0) {
			code = usage_error(err);
			goto out;
		}
	}
	if (o.baseline && mh_doc_load(o.baseline, &baseline, err, sizeof(err)) < 0) {
		code = usage_error(err);
		goto out;
	}
	if (mh_doc_merge(docs, o.ninputs, &merged, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		code = MH_EXIT_RUNTIME;
		goto out;
	}

	/* Every output is attempted; any failure makes the exit code 3. */
	if (o.out_json && write_json(merged, o.out_json, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		code = MH_EXIT_RUNTIME;
	}
	if (o.html && mh_render_html(merged, baseline, o.html, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		code = MH_EXIT_RUNTIME;
	}
	if (o.junit && mh_render_junit(merged, o.junit, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		code = MH_EXIT_RUNTIME;
	}
	if (o.sarif && mh_render_sarif(merged, o.sarif, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		code = MH_EXIT_RUNTIME;
	}
	if (o.text || !(o.out_json || o.html || o.junit || o.sarif)) {
		if (mh_render_text(merged, stdout, want_color()) < 0) {
			fprintf(stderr, "mailhole: standard output: write failed\n");
			code = MH_EXIT_RUNTIME;
		}
		if (baseline) {
			struct json_object *d = NULL;
			unsigned failing;
			if (mh_doc_diff(baseline, merged, o.fail_on, &d, &failing, err,
			                sizeof(err)) == 0) {
				fputc('\n', stdout);
				print_diff(d, stdout, "since the baseline");
			}
			json_object_put(d);
		}
		fflush(stdout);
	}
	if (code == MH_EXIT_OK && count_failing(merged, o.fail_on) > 0)
		code = MH_EXIT_FINDINGS;
out:
	for (size_t i = 0; i < loaded && docs; i++)
		json_object_put(docs[i]);
	free(docs);
	json_object_put(merged);
	json_object_put(baseline);
	free(o.inputs);
	return code;
}

int mh_cmd_diff(int argc, char **argv)
{
	struct json_object *old_doc = NULL, *new_doc = NULL, *d = NULL;
	const char *paths[2] = {NULL, NULL}, *out_json = NULL;
	char err[MH_ERRLEN] = "";
	int fail_on = MH_SEV_HIGH, code = MH_EXIT_OK, npaths = 0;
	unsigned failing = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = NULL;
		int rc;

		if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (npaths == 2) {
				mh_err(
				    err, sizeof(err), MH_EINVAL,
				    "argument %d '%s': diff takes two documents, OLD.json NEW.json",
				    i, a);
				return usage_error(err);
			}
			paths[npaths++] = a;
			continue;
		}
		if ((rc = opt_value(argc, argv, &i, "--fail-on", &v, err, sizeof(err))) > 0) {
			if (parse_fail_on(v, i, err, sizeof(err), &fail_on) < 0)
				return usage_error(err);
		} else if (rc == 0 &&
		           (rc = opt_value(argc, argv, &i, "-o", &v, err, sizeof(err))) == 0 &&
		           (rc = opt_value(argc, argv, &i, "--output", &v, err, sizeof(err))) ==
		               0) {
			mh_err(err, sizeof(err), MH_EINVAL,
			       "option '%s' (argument %d): unknown; try mailhole --help", a, i);
			return usage_error(err);
		} else if (rc < 0) {
			return usage_error(err);
		} else {
			out_json = v;
		}
	}
	if (npaths != 2) {
		mh_err(err, sizeof(err), MH_EINVAL,
		       "diff (argument %d): needs two documents, OLD.json NEW.json", npaths + 1);
		return usage_error(err);
	}
	if (mh_doc_load(paths[0], &old_doc, err, sizeof(err)) < 0 ||
	    mh_doc_load(paths[1], &new_doc, err, sizeof(err)) < 0) {
		code = usage_error(err);
		goto out;
	}
	if (mh_doc_diff(old_doc, new_doc, fail_on, &d, &failing, err, sizeof(err)) < 0) {
		fprintf(stderr, "mailhole: %s\n", err);
		code = MH_EXIT_RUNTIME;
		goto out;
	}
	print_diff(d, stdout, "mailhole diff");
	fflush(stdout);
	if (out_json) {
		json_object_object_add(d, "schema", json_object_new_string("mailhole-diff/1"));
		json_object_object_add(d, "fail_on",
		                       json_object_new_string(fail_on < MH_SEV_COUNT
		                                                  ? mh_severity_name(fail_on)
		                                                  : "none"));
		json_object_object_add(d, "failing", json_object_new_int64(failing));
		if (write_json(d, out_json, err, sizeof(err)) < 0) {
			fprintf(stderr, "mailhole: %s\n", err);
			code = MH_EXIT_RUNTIME;
			goto out;
		}
	}
	code = failing ? MH_EXIT_FINDINGS : MH_EXIT_OK;
out:
	json_object_put(old_doc);
	json_object_put(new_doc);
	json_object_put(d);
	return code;
}
