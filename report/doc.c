/*
 * doc.c -- the document as data: loading and checking a "mailhole/1" file,
 * merging documents into one fleet document, recomputing the summary, and
 * comparing two documents' findings (behind `mailhole report` and
 * `mailhole diff`).
 *
 * A document is untrusted input: it may come from another host, another
 * version or a hand edit. The loader checks only what every reader relies
 * on (the schema string, "hosts" an array of objects with a string "addr");
 * everything else is read through mh_doc_string() and friends, which treat
 * a field of the wrong type as absent. Nothing here trusts a length, a type
 * or an order it did not check.
 *
 * Merging is keyed by address. Documents are applied oldest first (by
 * scan.finished, then by their order on the command line), so that for each
 * port, probe and finding the newest document's record wins simply by being
 * applied last.
 */
#include "mailhole/render.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/rules.h"
#include "mailhole/target.h"

/* The biggest document we read: a fleet of a million hosts is well under it. */
#define DOC_MAX_BYTES (1024u * 1024u * 1024u)

/* ---- reading fields ----------------------------------------------------- */

const char *mh_doc_string(struct json_object *obj, const char *key, size_t *len)
{
	struct json_object *v;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	if (len)
		*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

struct json_object *mh_doc_array(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

int mh_doc_severity(struct json_object *finding)
{
	const char *s = mh_doc_string(finding, "severity", NULL);
	int sev = s ? mh_severity_parse(s) : -1;

	return sev < 0 ? MH_SEV_COUNT : sev;
}

static struct json_object *doc_object(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

/* obj.key as an int in [min, max]; false when absent, of another type or out of range. */
static bool doc_int(struct json_object *obj, const char *key, int64_t min, int64_t max,
                    int64_t *out)
{
	struct json_object *v;

	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return *out >= min && *out <= max;
}

/* ---- loading ------------------------------------------------------------ */

/* Reads the whole file (at most DOC_MAX_BYTES) into a malloc'ed buffer. */
static int read_file(const char *path, const char *shown, char **out, size_t *outlen, char *err,
                     size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (!f)
		return mh_err(err, errlen, MH_EIO, "%s: %s", shown, strerror(errno));
	for (;;) {
		size_t n;
		if (len == cap) {
			char *nb;
			if (cap >= DOC_MAX_BYTES) {
				free(buf);
				fclose(f);
				return mh_err(err, errlen, MH_ELIMIT, "%s: larger than %u MiB",
				              shown, DOC_MAX_BYTES >> 20);
			}
			cap = cap ? cap * 2 : 64 * 1024;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				fclose(f);
				return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", shown);
			}
			buf = nb;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		int e = errno;
		free(buf);
		fclose(f);
		return mh_err(err, errlen, MH_EIO, "%s: %s", shown, strerror(e));
	}
	fclose(f);
	if (!buf && !(buf = malloc(1)))
		return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", shown);
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
}

/* Line and column (both from 1, the column in bytes) of offset off in buf. */
static void position(const char *buf, size_t off, unsigned long *line, unsigned long *col)
{
	const char *p = buf, *end = buf + off, *nl;

	*line = 1;
	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		(*line)++;
		p = nl + 1;
	}
	*col = (unsigned long)(end - p) + 1;
}

static bool is_json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The shape every reader relies on. */
static int check_shape(struct json_object *doc, const char *path, char *err, size_t errlen)
{
	const char *schema = mh_doc_string(doc, "schema", NULL);
	struct json_object *hosts, *v;
	size_t n;

	if (!json_object_is_type(doc, json_type_object))
		return mh_err(err, errlen, MH_EINVAL,
		              "%s: not a mailhole/1 document (not an object)", path);
	if (!schema || strcmp(schema, "mailhole/1") != 0)
		return mh_err(err, errlen, MH_EINVAL, "%s: .schema: not a mailhole/1 document",
		              path);
	if (!json_object_object_get_ex(doc, "hosts", &hosts))
		return mh_err(err, errlen, MH_EINVAL, "%s: .hosts: missing", path);
	if (!json_object_is_type(hosts, json_type_array))
		return mh_err(err, errlen, MH_EINVAL, "%s: .hosts: not an array", path);
	n = json_object_array_length(hosts);
	for (size_t i = 0; i < n; i++) {
		struct json_object *h = json_object_array_get_idx(hosts, i);
		if (!json_object_is_type(h, json_type_object))
			return mh_err(err, errlen, MH_EINVAL, "%s: .hosts[%zu]: not an object",
			              path, i);
		if (!json_object_object_get_ex(h, "addr", &v))
			return mh_err(err, errlen, MH_EINVAL, "%s: .hosts[%zu].addr: missing", path,
			              i);
		if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
			return mh_err(err, errlen, MH_EINVAL,
			              "%s: .hosts[%zu].addr: not a non-empty string", path, i);
	}
	return 0;
}

int mh_doc_load(const char *path, struct json_object **out, char *err, size_t errlen)
{
	char shown[256];
	struct json_tokener *tok;
	struct json_object *doc;
	enum json_tokener_error jerr;
	unsigned long line, col;
	char *buf = NULL;
	size_t len = 0, end;
	int rc;

	*out = NULL;
	/* the path is the user's, but it lands in a one-line message */
	mh_sanitize_line(shown, sizeof(shown), path, strlen(path));
	rc = read_file(path, shown, &buf, &len, err, errlen);
	if (rc < 0)
		return rc;
	if (len > INT32_MAX) {
		free(buf);
		return mh_err(err, errlen, MH_ELIMIT, "%s: too large", shown);
	}
	tok = json_tokener_new();
	if (!tok) {
		free(buf);
		return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", shown);
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	doc = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue || (!doc && jerr == json_tokener_success)) {
		/* the text ended inside a value (or there was no value at all) */
		position(buf, len, &line, &col);
		rc = mh_err(err, errlen, MH_EINVAL,
		            "%s: line %lu, column %lu: unexpected end of data", shown, line, col);
		goto out;
	}
	if (jerr != json_tokener_success) {
		position(buf, end < len ? end : len, &line, &col);
		rc = mh_err(err, errlen, MH_EINVAL, "%s: line %lu, column %lu: %s", shown, line,
		            col, json_tokener_error_desc(jerr));
		goto out;
	}
	while (end < len && is_json_space(buf[end]))
		end++;
	if (end < len) {
		position(buf, end, &line, &col);
		rc = mh_err(err, errlen, MH_EINVAL,
		            "%s: line %lu, column %lu: data after the end of the document", shown,
		            line, col);
		goto out;
	}
	rc = check_shape(doc, shown, err, errlen);
out:
	json_tokener_free(tok);
	free(buf);
	if (rc < 0) {
		json_object_put(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

/* ---- summary ------------------------------------------------------------ */

static bool port_open(struct json_object *port)
{
	const char *state = mh_doc_string(port, "state", NULL);

	return state && strcmp(state, "open") == 0;
}

void mh_doc_summarize(struct json_object *doc)
{
	struct json_object *hosts = mh_doc_array(doc, "hosts");
	struct json_object *summary = doc_object(doc, "summary");
	struct json_object *f;
	uint64_t nhosts = 0, open = 0, errors = 0, counts[MH_SEV_COUNT] = {0};

	if (!json_object_is_type(doc, json_type_object))
		return;
	if (hosts)
		nhosts = json_object_array_length(hosts);
	for (size_t i = 0; i < nhosts; i++) {
		struct json_object *h = json_object_array_get_idx(hosts, i);
		struct json_object *ports = mh_doc_array(h, "ports");
		struct json_object *findings = mh_doc_array(h, "findings");
		size_t np = ports ? json_object_array_length(ports) : 0;
		size_t nf = findings ? json_object_array_length(findings) : 0;

		for (size_t k = 0; k < np; k++) {
			struct json_object *p = json_object_array_get_idx(ports, k);
			if (port_open(p))
				open++;
			if (mh_doc_string(doc_object(p, "smtp"), "error", NULL))
				errors++;
		}
		for (size_t k = 0; k < nf; k++) {
			int sev = mh_doc_severity(json_object_array_get_idx(findings, k));
			if (sev < MH_SEV_COUNT)
				counts[sev]++;
		}
	}
	if (!summary) {
		/* absent or of another type: replaced */
		summary = json_object_new_object();
		if (!summary)
			return;
		json_object_object_add(doc, "summary", summary);
	}
	json_object_object_add(summary, "hosts", json_object_new_uint64(nhosts));
	json_object_object_add(summary, "open_ports", json_object_new_uint64(open));
	f = json_object_new_object();
	for (int s = 0; f && s < MH_SEV_COUNT; s++)
		json_object_object_add(f, mh_severity_name(s), json_object_new_uint64(counts[s]));
	json_object_object_add(summary, "findings", f);
	json_object_object_add(summary, "smtp_errors", json_object_new_uint64(errors));
}

/* ---- merging ------------------------------------------------------------ */

struct doc_order {
	const char *finished; /* "" when unknown: oldest */
	size_t index;         /* position on the command line: the later wins a tie */
};

static int order_cmp(const void *a, const void *b)
{
	const struct doc_order *x = a, *y = b;
	int c = strcmp(x->finished, y->finished);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

static struct json_object *copy(struct json_object *o)
{
	struct json_object *c = NULL;

	if (json_object_deep_copy(o, &c, NULL) < 0)
		return NULL;
	return c;
}

/* Index of the element of arr whose key(elem) equals k, or -1. */
typedef bool (*same_fn)(struct json_object *a, struct json_object *b);

static long find_same(struct json_object *arr, struct json_object *item, same_fn same)
{
	size_t n = json_object_array_length(arr);

	for (size_t i = 0; i < n; i++)
		if (same(json_object_array_get_idx(arr, i), item))
			return (long)i;
	return -1;
}

static bool same_port(struct json_object *a, struct json_object *b)
{
	int64_t x, y;

	return doc_int(a, "port", 0, 65535, &x) && doc_int(b, "port", 0, 65535, &y) && x == y;
}

static bool same_str(struct json_object *a, struct json_object *b, const char *key)
{
	size_t la, lb;
	const char *x = mh_doc_string(a, key, &la), *y = mh_doc_string(b, key, &lb);

	if (!x || !y)
		return x == y;
	return la == lb && memcmp(x, y, la) == 0;
}

static bool same_probe(struct json_object *a, struct json_object *b)
{
	return same_str(a, b, "kind") && same_str(a, b, "tag");
}

static bool same_finding(struct json_object *a, struct json_object *b)
{
	return mh_doc_string(a, "id", NULL) && same_str(a, b, "id");
}

/*
 * Applies the records of src to dst (both arrays): a record with the same key
 * is replaced (the newer document wins), others are appended. Records of the
 * wrong shape (not an object, no key) are kept as they come, appended: the
 * merge loses nothing it does not understand.
 */
static int merge_records(struct json_object *dst, struct json_object *src, same_fn same)
{
	size_t n = src ? json_object_array_length(src) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *item = json_object_array_get_idx(src, i);
		struct json_object *c = copy(item);
		long at = find_same(dst, item, same);

		if (!c && item)
			return MH_ENOMEM;
		if (at >= 0) {
			if (json_object_array_put_idx(dst, (size_t)at, c) < 0)
				return MH_ENOMEM;
		} else if (json_object_array_add(dst, c) < 0) {
			json_object_put(c);
			return MH_ENOMEM;
		}
	}
	return 0;
}

static int merge_names(struct json_object *dst, struct json_object *src)
{
	size_t n = src ? json_object_array_length(src) : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *name = json_object_array_get_idx(src, i);
		size_t m = json_object_array_length(dst), k;

		if (!json_object_is_type(name, json_type_string))
			continue;
		for (k = 0; k < m; k++)
			if (json_object_equal(json_object_array_get_idx(dst, k), name))
				break;
		if (k == m && json_object_array_add(dst, copy(name)) < 0)
			return MH_ENOMEM;
	}
	return 0;
}

static int port_cmp(const void *a, const void *b)
{
	struct json_object *x = *(struct json_object *const *)a;
	struct json_object *y = *(struct json_object *const *)b;
	int64_t px = -1, py = -1;

	doc_int(x, "port", 0, 65535, &px);
	doc_int(y, "port", 0, 65535, &py);
	return px < py ? -1 : px > py;
}

/* Exposure from the merged ports (schema.md); NULL when there is no port to judge by. */
static const char *exposure_of(struct json_object *host)
{
	struct json_object *ports = mh_doc_array(host, "ports");
	const char *addr = mh_doc_string(host, "addr", NULL);
	size_t n = ports ? json_object_array_length(ports) : 0;
	struct mh_addr a;
	bool open = false, loopback;

	if (n == 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		open |= port_open(json_object_array_get_idx(ports, i));
	if (!open)
		return "none";
	loopback = addr && mh_addr_parse(addr, &a) == 0 && mh_addr_is_loopback(&a);
	return loopback ? "loopback-only" : "exposed";
}

static const char *const handled_keys[] = {"addr",   "names",    "role",  "exposure", "ports",
                                           "probes", "findings", "local", NULL};

static bool is_handled(const char *key)
{
	for (const char *const *k = handled_keys; *k; k++)
		if (strcmp(*k, key) == 0)
			return true;
	return false;
}

static struct json_object *new_host(struct json_object *src)
{
	struct json_object *h = json_object_new_object();

	if (!h)
		return NULL;
	json_object_object_add(h, "addr", copy(json_object_object_get(src, "addr")));
	json_object_object_add(h, "names", json_object_new_array());
	json_object_object_add(h, "role", json_object_new_string("client"));
	json_object_object_add(h, "exposure", json_object_new_string("unknown"));
	json_object_object_add(h, "ports", json_object_new_array());
	json_object_object_add(h, "findings", json_object_new_array());
	return h;
}

/* Applies one (newer) host record src to the merged record dst. */
static int merge_host(struct json_object *dst, struct json_object *src)
{
	const char *role = mh_doc_string(src, "role", NULL);
	const char *exposure = mh_doc_string(src, "exposure", NULL);
	struct json_object *v, *probes;
	int rc;

	if ((rc = merge_names(json_object_object_get(dst, "names"), mh_doc_array(src, "names"))) <
	    0)
		return rc;
	if (role && strcmp(role, "mail-server") == 0)
		json_object_object_add(dst, "role", json_object_new_string("mail-server"));
	if (exposure) /* kept for hosts without ports (a local record); recomputed below */
		json_object_object_add(dst, "exposure", json_object_new_string(exposure));
	if ((rc = merge_records(json_object_object_get(dst, "ports"), mh_doc_array(src, "ports"),
	                        same_port)) < 0)
		return rc;
	if ((rc = merge_records(json_object_object_get(dst, "findings"),
	                        mh_doc_array(src, "findings"), same_finding)) < 0)
		return rc;
	if ((probes = mh_doc_array(src, "probes")) != NULL) {
		if (!json_object_object_get_ex(dst, "probes", &v))
			json_object_object_add(dst, "probes", (v = json_object_new_array()));
		if (!v || (rc = merge_records(v, probes, same_probe)) < 0)
			return MH_ENOMEM;
	}
	if ((v = doc_object(src, "local")) != NULL)
		json_object_object_add(dst, "local", copy(v));
	/* fields this version does not know: the newest wins */
	json_object_object_foreach(src, key, val)
	{
		if (!is_handled(key))
			json_object_object_add(dst, key, copy(val));
	}
	return 0;
}

/* Host order of a merged document: IPv4, then IPv6, numerically; then anything else. */
static int host_cmp(const void *a, const void *b)
{
	const char *x = mh_doc_string(*(struct json_object *const *)a, "addr", NULL);
	const char *y = mh_doc_string(*(struct json_object *const *)b, "addr", NULL);
	struct mh_addr ax, ay;
	bool px = x && mh_addr_parse(x, &ax) == 0, py = y && mh_addr_parse(y, &ay) == 0;

	if (px && py) {
		if (ax.family != ay.family)
			return ax.family == AF_INET ? -1 : 1;
		int c = mh_addr_cmp(&ax, &ay);
		if (c)
			return c;
	} else if (px != py) {
		return px ? -1 : 1;
	}
	return strcmp(x ? x : "", y ? y : "");
}

/* scan of the merged document: what was merged, and when it was gathered. */
static struct json_object *merged_scan(struct json_object *const *docs,
                                       const struct doc_order *order, size_t n)
{
	struct json_object *scan = json_object_new_object();
	struct json_object *inputs = json_object_new_array();
	const char *started = NULL, *finished = NULL;
	bool complete = true;

	if (!scan || !inputs) {
		json_object_put(scan);
		json_object_put(inputs);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = doc_object(docs[order[i].index], "scan");
		const char *st = mh_doc_string(s, "started", NULL);
		const char *fi = mh_doc_string(s, "finished", NULL);
		struct json_object *c = NULL;

		json_object_array_add(inputs, s ? copy(s) : json_object_new_object());
		if (st && (!started || strcmp(st, started) < 0))
			started = st;
		if (fi && (!finished || strcmp(fi, finished) > 0))
			finished = fi;
		if (!s || !json_object_object_get_ex(s, "complete", &c) ||
		    !json_object_is_type(c, json_type_boolean) || !json_object_get_boolean(c))
			complete = false;
	}
	json_object_object_add(scan, "tool", json_object_new_string("mailhole"));
	json_object_object_add(scan, "tool_version", json_object_new_string(MH_VERSION));
	json_object_object_add(scan, "command", json_object_new_string("report"));
	json_object_object_add(scan, "started", started ? json_object_new_string(started) : NULL);
	json_object_object_add(scan, "finished",
	                       finished ? json_object_new_string(finished) : NULL);
	json_object_object_add(scan, "complete", json_object_new_boolean(complete));
	json_object_object_add(scan, "inputs", inputs);
	return scan;
}

int mh_doc_merge(struct json_object *const *docs, size_t n, struct json_object **out, char *err,
                 size_t errlen)
{
	struct doc_order *order = NULL;
	struct json_object *doc = NULL, *hosts = NULL, *index = NULL, *scan;
	int rc = MH_ENOMEM;

	*out = NULL;
	if (n == 0)
		return mh_err(err, errlen, MH_EINVAL, "nothing to merge");
	order = calloc(n, sizeof(*order));
	doc = json_object_new_object();
	hosts = json_object_new_array();
	index = json_object_new_object(); /* addr -> merged host (a second reference) */
	if (!order || !doc || !hosts || !index)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const char *fi = mh_doc_string(doc_object(docs[i], "scan"), "finished", NULL);
		if (!mh_doc_array(docs[i], "hosts")) {
			rc = mh_err(err, errlen, MH_EINVAL, "input %zu: not a mailhole/1 document",
			            i + 1);
			goto fail;
		}
		order[i].finished = fi ? fi : "";
		order[i].index = i;
	}
	qsort(order, n, sizeof(*order), order_cmp);

	for (size_t i = 0; i < n; i++) {
		struct json_object *src = mh_doc_array(docs[order[i].index], "hosts");
		size_t nh = json_object_array_length(src);

		for (size_t k = 0; k < nh; k++) {
			struct json_object *h = json_object_array_get_idx(src, k), *m;
			const char *addr = mh_doc_string(h, "addr", NULL);

			if (!addr)
				continue; /* mh_doc_load refuses these; a caller's own tree may not
				           */
			if (!json_object_object_get_ex(index, addr, &m)) {
				if (!(m = new_host(h)) || json_object_array_add(hosts, m) < 0) {
					json_object_put(m);
					goto fail;
				}
				json_object_object_add(index, addr, json_object_get(m));
			}
			if ((rc = merge_host(m, h)) < 0)
				goto fail;
			rc = MH_ENOMEM;
		}
	}

	/* Order, and what is recomputed from the merged evidence. */
	json_object_array_sort(hosts, host_cmp);
	for (size_t i = 0, nh = json_object_array_length(hosts); i < nh; i++) {
		struct json_object *h = json_object_array_get_idx(hosts, i);
		const char *exposure = exposure_of(h);

		json_object_array_sort(json_object_object_get(h, "ports"), port_cmp);
		if (exposure)
			json_object_object_add(h, "exposure", json_object_new_string(exposure));
	}
	scan = merged_scan(docs, order, n);
	if (!scan)
		goto fail;
	json_object_object_add(doc, "schema", json_object_new_string("mailhole/1"));
	json_object_object_add(doc, "scan", scan);
	json_object_object_add(doc, "summary", json_object_new_object());
	json_object_object_add(doc, "hosts", hosts);
	hosts = NULL;
	/*
	 * Relay queue listings (mailhole queue): the newest input's "queue"
	 * stays "queue"; with more than one, all of them (oldest first) are in
	 * "queues" as well.
	 */
	{
		struct json_object *queues = json_object_new_array(), *last = NULL;
		for (size_t i = 0; queues && i < n; i++) {
			struct json_object *q = doc_object(docs[order[i].index], "queue");
			if (!q)
				continue;
			json_object_array_add(queues, copy(q));
			last = q;
		}
		if (last)
			json_object_object_add(doc, "queue", copy(last));
		if (queues && json_object_array_length(queues) > 1)
			json_object_object_add(doc, "queues", queues);
		else
			json_object_put(queues);
	}
	mh_doc_summarize(doc);
	json_object_put(index);
	free(order);
	*out = doc;
	return 0;
fail:
	json_object_put(index);
	json_object_put(hosts);
	json_object_put(doc);
	free(order);
	if (rc == MH_ENOMEM)
		mh_err(err, errlen, rc, "merge: out of memory");
	return rc;
}

/* ---- diff --------------------------------------------------------------- */

/*
 * The findings of a document as a json-c object used as a hash: a key that
 * says addr and id unambiguously ("<length of addr>:<addr><id>") -> the diff
 * item { addr, id, severity, title }. The first of duplicates is kept; keys
 * are also appended to `order`, so that items come out in document order.
 */
static struct json_object *finding_index(struct json_object *doc, struct json_object *order)
{
	struct json_object *idx = json_object_new_object();
	struct json_object *hosts = mh_doc_array(doc, "hosts");
	size_t nh = hosts ? json_object_array_length(hosts) : 0;

	for (size_t i = 0; idx && i < nh; i++) {
		struct json_object *h = json_object_array_get_idx(hosts, i);
		struct json_object *findings = mh_doc_array(h, "findings");
		const char *addr = mh_doc_string(h, "addr", NULL);
		size_t nf = findings ? json_object_array_length(findings) : 0;

		for (size_t k = 0; addr && k < nf; k++) {
			struct json_object *f = json_object_array_get_idx(findings, k), *item;
			const char *id = mh_doc_string(f, "id", NULL);
			size_t la = strlen(addr), li, cap;
			char *key;
			int n;

			if (!id)
				continue;
			li = strlen(id);
			cap = la + li + 24;
			key = malloc(cap);
			if (!key)
				goto oom;
			n = snprintf(key, cap, "%zu:%s%s", la, addr, id);
			if (n < 0 || json_object_object_get_ex(idx, key, NULL)) {
				free(key);
				continue;
			}
			item = json_object_new_object();
			if (!item) {
				free(key);
				goto oom;
			}
			json_object_object_add(item, "addr", json_object_new_string(addr));
			json_object_object_add(item, "id", json_object_new_string(id));
			json_object_object_add(item, "severity",
			                       copy(json_object_object_get(f, "severity")));
			json_object_object_add(item, "title",
			                       copy(json_object_object_get(f, "title")));
			json_object_object_add(idx, key, item);
			json_object_array_add(order, json_object_new_string(key));
			free(key);
		}
	}
	return idx;
oom:
	json_object_put(idx);
	return NULL;
}

int mh_doc_diff(struct json_object *old_doc, struct json_object *new_doc, int fail_on,
                struct json_object **out, unsigned *failing, char *err, size_t errlen)
{
	struct json_object *old_keys = json_object_new_array();
	struct json_object *new_keys = json_object_new_array();
	struct json_object *old_idx = NULL, *new_idx = NULL, *res = NULL;
	struct json_object *added = NULL, *fixed = NULL, *same = NULL;
	unsigned nfail = 0;
	int rc = 0;

	*out = NULL;
	*failing = 0;
	if (!old_keys || !new_keys)
		goto oom;
	old_idx = finding_index(old_doc, old_keys);
	new_idx = finding_index(new_doc, new_keys);
	res = json_object_new_object();
	if (!old_idx || !new_idx || !res)
		goto oom;
	json_object_object_add(res, "new", (added = json_object_new_array()));
	json_object_object_add(res, "fixed", (fixed = json_object_new_array()));
	json_object_object_add(res, "unchanged", (same = json_object_new_array()));
	if (!added || !fixed || !same)
		goto oom;
	for (size_t i = 0, n = json_object_array_length(new_keys); i < n; i++) {
		const char *key = json_object_get_string(json_object_array_get_idx(new_keys, i));
		struct json_object *item = json_object_object_get(new_idx, key);
		int sev = mh_doc_severity(item);

		if (json_object_object_get_ex(old_idx, key, NULL)) {
			json_object_array_add(same, json_object_get(item));
		} else {
			json_object_array_add(added, json_object_get(item));
			if (fail_on < MH_SEV_COUNT && sev <= fail_on)
				nfail++;
		}
	}
	for (size_t i = 0, n = json_object_array_length(old_keys); i < n; i++) {
		const char *key = json_object_get_string(json_object_array_get_idx(old_keys, i));

		if (!json_object_object_get_ex(new_idx, key, NULL))
			json_object_array_add(
			    fixed, json_object_get(json_object_object_get(old_idx, key)));
	}
	*out = res;
	res = NULL;
	*failing = nfail;
	goto done;
oom:
	rc = mh_err(err, errlen, MH_ENOMEM, "diff: out of memory");
done:
	json_object_put(old_keys);
	json_object_put(new_keys);
	json_object_put(old_idx);
	json_object_put(new_idx);
	json_object_put(res);
	return rc;
}
