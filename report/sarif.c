/*
 * sarif.c -- the document as SARIF 2.1.0 (OASIS Static Analysis Results
 * Interchange Format), the format code-scanning dashboards import.
 *
 * One run; the tool's driver lists every rule of the table (and, after
 * them, any rule ID the document holds that this version does not know),
 * each with its title, rationale, generic remediation and a default level:
 * critical and high are "error", medium "warning", low and info "note".
 * Each finding is one result. A host is not a file, so a result's location
 * is a logical location (SARIF 3.33) named by the host's address, of kind
 * "host"; partialFingerprints carry addr and rule so that a dashboard
 * recognises the same finding across runs.
 *
 * Built with json-c, so the text is valid JSON whatever the document holds;
 * every string from the document is made valid UTF-8 again first.
 */
#include "mailhole/render.h"

#include <json-c/printbuf.h>
#include <stdio.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/report.h"
#include "mailhole/rules.h"

#define SARIF_SCHEMA "https://json.schemastore.org/sarif-2.1.0.json"

static const char *level_of(int sev)
{
	switch (sev) {
	case MH_SEV_CRITICAL:
	case MH_SEV_HIGH:
		return "error";
	case MH_SEV_MEDIUM:
		return "warning";
	case MH_SEV_LOW:
	case MH_SEV_INFO:
		return "note";
	default:
		return "warning";
	}
}

/* GitHub code scanning's "security-severity" (a CVSS-like score, as text). */
static const char *score_of(int sev)
{
	static const char *const scores[MH_SEV_COUNT] = {"9.5", "8.0", "5.5", "3.0", "0.0"};

	return sev >= 0 && sev < MH_SEV_COUNT ? scores[sev] : "5.5";
}

static struct json_object *str(const char *s)
{
	return mh_json_string(s, strlen(s));
}

/* A copy of a document string, made valid UTF-8 (NUL bytes included); NULL when absent. */
static struct json_object *doc_str(struct json_object *obj, const char *key)
{
	size_t len;
	const char *s = mh_doc_string(obj, key, &len);

	return s ? mh_json_string(s, len) : NULL;
}

/* { "text": s } */
static struct json_object *message(struct json_object *text)
{
	struct json_object *m = json_object_new_object();

	json_object_object_add(m, "text", text ? text : json_object_new_string(""));
	return m;
}

static struct json_object *rule_json(const struct mh_rule *r)
{
	struct json_object *o = json_object_new_object();
	struct json_object *cfg = json_object_new_object();
	struct json_object *props = json_object_new_object();
	struct json_object *tags = json_object_new_array();

	json_object_object_add(o, "id", str(r->id));
	json_object_object_add(o, "shortDescription", message(str(r->title)));
	json_object_object_add(o, "fullDescription", message(str(r->rationale)));
	json_object_object_add(o, "help", message(str(r->fix_generic ? r->fix_generic : "")));
	json_object_object_add(cfg, "level", str(level_of((int)r->severity)));
	json_object_object_add(o, "defaultConfiguration", cfg);
	json_object_array_add(tags, str("security"));
	json_object_array_add(tags, str("smtp"));
	json_object_object_add(props, "tags", tags);
	json_object_object_add(props, "severity", str(mh_severity_name(r->severity)));
	json_object_object_add(props, "security-severity", str(score_of((int)r->severity)));
	json_object_object_add(o, "properties", props);
	return o;
}

/* A rule the table does not know, described by the first finding that names it. */
static struct json_object *unknown_rule_json(const char *id, struct json_object *finding)
{
	struct json_object *o = json_object_new_object();
	struct json_object *title = doc_str(finding, "title");
	struct json_object *fix = doc_str(finding, "remediation");

	json_object_object_add(o, "id", str(id));
	json_object_object_add(o, "shortDescription", message(title ? title : str(id)));
	if (fix)
		json_object_object_add(o, "help", message(fix));
	return o;
}

/* "title: evidence" as one message, made valid UTF-8. */
static struct json_object *result_message(struct json_object *f, const char *id)
{
	size_t lt = 0, le = 0;
	const char *t = mh_doc_string(f, "title", &lt);
	const char *e = mh_doc_string(f, "evidence", &le);
	struct printbuf *pb = printbuf_new();
	struct json_object *text;

	if (!pb)
		return NULL;
	if (!t) {
		t = id;
		lt = strlen(id);
	}
	printbuf_memappend(pb, t, (int)lt);
	if (e && le) {
		printbuf_memappend(pb, ": ", 2);
		printbuf_memappend(pb, e, (int)le);
	}
	text = mh_json_string(pb->buf, (size_t)printbuf_length(pb));
	printbuf_free(pb);
	return message(text);
}

static struct json_object *result_json(struct json_object *h, struct json_object *f, const char *id,
                                       int rule_index)
{
	struct json_object *o = json_object_new_object();
	struct json_object *loc = json_object_new_object();
	struct json_object *locs = json_object_new_array();
	struct json_object *logical = json_object_new_array();
	struct json_object *ll = json_object_new_object();
	struct json_object *fp = json_object_new_object();
	struct json_object *props = json_object_new_object();
	struct json_object *names = mh_doc_array(h, "names"), *clean_names;
	const char *addr = mh_doc_string(h, "addr", NULL);
	const struct mh_rule *r = mh_rule_find(id);
	int sev = mh_doc_severity(f);
	char key[512];

	if (sev == MH_SEV_COUNT && r)
		sev = (int)r->severity;
	json_object_object_add(o, "ruleId", str(id));
	if (rule_index >= 0)
		json_object_object_add(o, "ruleIndex", json_object_new_int(rule_index));
	json_object_object_add(o, "level", str(level_of(sev)));
	json_object_object_add(o, "message", result_message(f, id));

	json_object_object_add(ll, "name", doc_str(h, "addr"));
	json_object_object_add(ll, "kind", str("host"));
	json_object_array_add(logical, ll);
	json_object_object_add(loc, "logicalLocations", logical);
	json_object_array_add(locs, loc);
	json_object_object_add(o, "locations", locs);

	snprintf(key, sizeof(key), "%s|%s", addr ? addr : "", id);
	json_object_object_add(fp, "mailhole/v1", str(key));
	json_object_object_add(o, "partialFingerprints", fp);

	json_object_object_add(props, "severity",
	                       str(sev < MH_SEV_COUNT ? mh_severity_name(sev) : "unknown"));
	json_object_object_add(props, "addr", doc_str(h, "addr"));
	clean_names = json_object_new_array();
	for (size_t i = 0, n = names ? json_object_array_length(names) : 0; i < n; i++) {
		struct json_object *nm = json_object_array_get_idx(names, i);
		if (json_object_is_type(nm, json_type_string))
			json_object_array_add(
			    clean_names, mh_json_string(json_object_get_string(nm),
			                                (size_t)json_object_get_string_len(nm)));
	}
	json_object_object_add(props, "names", clean_names);
	json_object_object_add(props, "remediation", doc_str(f, "remediation"));
	json_object_object_add(props, "evidence", doc_str(f, "evidence"));
	json_object_object_add(o, "properties", props);
	return o;
}

int mh_render_sarif(struct json_object *doc, const char *path, char *err, size_t errlen)
{
	struct json_object *hosts = mh_doc_array(doc, "hosts");
	struct json_object *scan = NULL;
	struct json_object *log = json_object_new_object();
	struct json_object *runs = json_object_new_array();
	struct json_object *run = json_object_new_object();
	struct json_object *tool = json_object_new_object();
	struct json_object *driver = json_object_new_object();
	struct json_object *rules = json_object_new_array();
	struct json_object *results = json_object_new_array();
	struct json_object *extra = json_object_new_object(); /* unknown id -> its index */
	struct json_object *props;
	size_t nh = hosts ? json_object_array_length(hosts) : 0;
	const char *text;
	int rc;

	if (!log || !runs || !run || !tool || !driver || !rules || !results || !extra) {
		json_object_put(log);
		json_object_put(runs);
		json_object_put(run);
		json_object_put(tool);
		json_object_put(driver);
		json_object_put(rules);
		json_object_put(results);
		json_object_put(extra);
		return mh_err(err, errlen, MH_ENOMEM, "sarif: out of memory");
	}
	json_object_object_add(log, "$schema", str(SARIF_SCHEMA));
	json_object_object_add(log, "version", str("2.1.0"));
	json_object_object_add(driver, "name", str("mailhole"));
	json_object_object_add(driver, "version", str(MH_VERSION));
	for (unsigned i = 0; i < mh_nrules; i++)
		json_object_array_add(rules, rule_json(&mh_rules[i]));

	for (size_t i = 0; i < nh; i++) {
		struct json_object *h = json_object_array_get_idx(hosts, i);
		struct json_object *findings = mh_doc_array(h, "findings");
		size_t nf = findings ? json_object_array_length(findings) : 0;

		for (size_t k = 0; k < nf; k++) {
			struct json_object *f = json_object_array_get_idx(findings, k), *at;
			const char *id = mh_doc_string(f, "id", NULL);
			const struct mh_rule *r;
			int index;

			if (!id)
				continue; /* a finding without a rule cannot be a result */
			r = mh_rule_find(id);
			if (r) {
				index = (int)(r - mh_rules);
			} else if (json_object_object_get_ex(extra, id, &at)) {
				index = json_object_get_int(at);
			} else {
				index = (int)json_object_array_length(rules);
				json_object_array_add(rules, unknown_rule_json(id, f));
				json_object_object_add(extra, id, json_object_new_int(index));
			}
			json_object_array_add(results, result_json(h, f, id, index));
		}
	}
	json_object_put(extra);
	json_object_object_add(driver, "rules", rules);
	json_object_object_add(tool, "driver", driver);
	json_object_object_add(run, "tool", tool);
	json_object_object_add(run, "results", results);

	/* when and how the evidence was gathered */
	props = json_object_new_object();
	json_object_object_get_ex(doc, "scan", &scan);
	json_object_object_add(props, "command", doc_str(scan, "command"));
	json_object_object_add(props, "started", doc_str(scan, "started"));
	json_object_object_add(props, "finished", doc_str(scan, "finished"));
	json_object_object_add(props, "hosts", json_object_new_uint64(nh));
	json_object_object_add(run, "properties", props);
	json_object_array_add(runs, run);
	json_object_object_add(log, "runs", runs);

	text =
	    json_object_to_json_string_ext(log, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	                                            JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text) {
		json_object_put(log);
		return mh_err(err, errlen, MH_ENOMEM, "sarif: out of memory");
	}
	{
		size_t len = strlen(text);
		struct printbuf *pb = printbuf_new();

		if (!pb) {
			json_object_put(log);
			return mh_err(err, errlen, MH_ENOMEM, "sarif: out of memory");
		}
		printbuf_memappend(pb, text, (int)len);
		printbuf_memappend(pb, "\n", 1);
		rc = mh_write_file_atomic(path, pb->buf, (size_t)printbuf_length(pb), err, errlen);
		printbuf_free(pb);
	}
	json_object_put(log);
	return rc;
}
