/*
 * html.c -- the HTML report: one self-contained HTML5 file an auditor can
 * open on a laptop or print.
 *
 * The file makes no request of any kind: the style sheet, the one script and
 * the charts (SVG) are inline, and a Content-Security-Policy meta tag allows
 * exactly that inline style and that script (by their SHA-256, computed
 * here at render time) and nothing else: no fetch, no image, no font, no
 * form, no base URL, no eval.
 *
 * Every string of the document is untrusted (a banner, an EHLO name, an
 * error excerpt came from whoever answered on port 25). All of them go
 * through mh_html_escape(), which is correct for text and for quoted
 * attribute values, and turns control characters, invalid UTF-8 and
 * invisible or bidi-override code points into visible text. Document
 * strings are never written inside the script, a URL or an event handler:
 * anchors and ids are made from indexes, and the script reads the host
 * table's text from the DOM.
 *
 * The page is complete with scripts off: every table is static HTML. The
 * script only adds sort buttons and a filter box, which print hides.
 */
#include "mailhole/render.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/report.h"
#include "mailhole/rules.h"

/* ---- the escaper -------------------------------------------------------- */

/*
 * Decodes one UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF). Returns its length, or 0 when s does not start a valid one.
 */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	v = (v << 6) | (s[1] & 0x3f);
	for (size_t i = 2; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	*cp = v;
	return n;
}

/*
 * Code points that print as nothing, or reorder the text around them (the
 * "Trojan Source" bidi controls): shown by number, so what the reader sees
 * is what the server sent.
 */
static int cp_invisible(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0xad || cp == 0x34f || cp == 0x61c ||
	       cp == 0x180e || (cp >= 0x200b && cp <= 0x200f) ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x206f) ||
	       cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
	       (cp >= 0xe0000 && cp <= 0xe007f);
}

size_t mh_html_escape(char *dst, size_t size, const char *src, size_t len)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0, need = 0, i = 0;
	int full = size == 0;
	char tmp[16];

	while (i < len) {
		const char *piece = tmp;
		size_t plen, k = 1;
		uint32_t cp;

		switch (s[i]) {
		case '&':
			piece = "&amp;";
			break;
		case '<':
			piece = "&lt;";
			break;
		case '>':
			piece = "&gt;";
			break;
		case '"':
			piece = "&quot;";
			break;
		case '\'':
			piece = "&#39;";
			break;
		case '\t':
		case '\n':
			piece = src + i;
			break;
		default:
			if (s[i] < 0x20 || s[i] == 0x7f) {
				snprintf(tmp, sizeof(tmp), "\\x%02x", s[i]);
			} else if (s[i] < 0x80) {
				piece = src + i;
			} else if ((k = utf8_decode(s + i, len - i, &cp)) == 0) {
				k = 1;
				snprintf(tmp, sizeof(tmp), "\\x%02x", s[i]);
			} else if (cp_invisible(cp)) {
				snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned)cp);
			} else {
				piece = src + i;
			}
			break;
		}
		plen = piece == src + i ? k : strlen(piece);
		need += plen;
		if (!full) {
			if (o + plen < size) {
				memcpy(dst + o, piece, plen);
				o += plen;
			} else {
				full = 1;
			}
		}
		i += k;
	}
	if (size > 0)
		dst[o] = '\0';
	return need;
}

/* ---- the output buffer -------------------------------------------------- */

/* The page grows here; one allocation failure spoils it (checked at the end). */
struct hbuf {
	char *p;
	size_t len, cap;
	int failed;
};

static int hb_reserve(struct hbuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->failed)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 65536;
	while (cap < b->len + n + 1) {
		if (cap > SIZE_MAX / 2) {
			b->failed = 1;
			return -1;
		}
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (!p) {
		b->failed = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static void hb_put(struct hbuf *b, const char *s, size_t n)
{
	if (hb_reserve(b, n) < 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Trusted text only: our own markup. */
static void hb_puts(struct hbuf *b, const char *s)
{
	hb_put(b, s, strlen(s));
}

static void hb_printf(struct hbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hb_printf(struct hbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || hb_reserve(b, (size_t)n) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Untrusted text: escaped. */
static void hb_esc(struct hbuf *b, const char *s, size_t n)
{
	size_t need = mh_html_escape(NULL, 0, s, n);

	if (hb_reserve(b, need) < 0)
		return;
	mh_html_escape(b->p + b->len, need + 1, s, n);
	b->len += need;
}

static void hb_escs(struct hbuf *b, const char *s)
{
	hb_esc(b, s, strlen(s));
}

/* ---- reading the document (every field may be missing or mistyped) ------ */

static struct json_object *jget(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

static const char *jstr(struct json_object *o, const char *key, size_t *len)
{
	struct json_object *v = jget(o, key);

	if (!v || !json_object_is_type(v, json_type_string))
		return NULL;
	if (len)
		*len = (size_t)json_object_get_string_len(v);
	return json_object_get_string(v);
}

static struct json_object *jarr(struct json_object *o, const char *key)
{
	struct json_object *v = jget(o, key);

	return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

static size_t jlen(struct json_object *arr)
{
	return arr ? json_object_array_length(arr) : 0;
}

static int jint(struct json_object *o, const char *key, long long *out)
{
	struct json_object *v = jget(o, key);

	if (!v || !json_object_is_type(v, json_type_int))
		return 0;
	*out = (long long)json_object_get_int64(v);
	return 1;
}

/*
 * A value as text, escaped: a string as it is, an array as its items joined
 * by commas, an object as "key: value" pairs, anything else as its JSON.
 */
static void hb_value_depth(struct hbuf *b, struct json_object *v, int depth)
{
	size_t i = 0;

	if (!v) {
		hb_puts(b, "<span class=\"muted\">null</span>");
	} else if (json_object_is_type(v, json_type_string)) {
		hb_esc(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
	} else if (depth < 4 && json_object_is_type(v, json_type_array)) {
		for (i = 0; i < json_object_array_length(v); i++) {
			hb_puts(b, i ? ", " : "");
			hb_value_depth(b, json_object_array_get_idx(v, i), depth + 1);
		}
		if (!i)
			hb_puts(b, "<span class=\"muted\">none</span>");
	} else if (depth < 4 && json_object_is_type(v, json_type_object)) {
		hb_puts(b, depth ? "{" : "");
		json_object_object_foreach(v, key, val) {
			hb_puts(b, i++ ? ", " : "");
			hb_escs(b, key);
			hb_puts(b, ": ");
			hb_value_depth(b, val, depth + 1);
		}
		hb_puts(b, depth ? "}" : "");
	} else {
		hb_escs(b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	}
}

static void hb_value(struct hbuf *b, struct json_object *v)
{
	hb_value_depth(b, v, 0);
}

/* The string at o.key escaped, or a muted dash. */
static void hb_field(struct hbuf *b, struct json_object *o, const char *key)
{
	size_t n;
	const char *s = jstr(o, key, &n);

	if (s && n)
		hb_esc(b, s, n);
	else
		hb_puts(b, "<span class=\"muted\">&#8212;</span>");
}

/* ---- the model of the page ------------------------------------------------ */

/* Severity ranks: enum mh_severity, then these two. */
#define SEV_UNKNOWN MH_SEV_COUNT
#define SEV_NONE    (MH_SEV_COUNT + 1)
#define NSEV        (MH_SEV_COUNT + 2)

static const char *const sev_label[NSEV] = { "Critical", "High", "Medium", "Low", "Info",
					      "Unknown", "None" };
static const char *const sev_class[NSEV] = { "critical", "high", "medium", "low", "info",
					      "unknown", "none" };
static const char *const sev_color[NSEV] = { "#7b1020", "#c62828", "#e07b00", "#c9a227",
					      "#4a6fa5", "#7a7f87", "#b8c0ca" };

enum { EXP_EXPOSED, EXP_LOOPBACK, EXP_NONE, EXP_UNKNOWN, NEXP };
static const char *const exp_name[NEXP] = { "exposed", "loopback-only", "none", "unknown" };
static const char *const exp_label[NEXP] = { "Exposed", "Loopback only", "Not listening",
					      "Unknown" };
static const char *const exp_color[NEXP] = { "#c62828", "#e07b00", "#b8c0ca", "#8e7cc3" };

static int sev_rank(struct json_object *finding)
{
	const char *s = jstr(finding, "severity", NULL);
	int r = s ? mh_severity_parse(s) : -1;

	return r < 0 ? SEV_UNKNOWN : r;
}

static int exp_rank(struct json_object *host)
{
	const char *s = jstr(host, "exposure", NULL);

	for (int i = 0; s && i < NEXP; i++)
		if (strcmp(s, exp_name[i]) == 0)
			return i;
	return EXP_UNKNOWN;
}

struct host_view {
	struct json_object *h;
	size_t order;            /* position in the document */
	int family;              /* 4, 6, or 0 when addr does not parse */
	unsigned char ip[16];
	int worst;               /* best severity rank among its findings, SEV_NONE if none */
	int exposure;            /* EXP_* */
	unsigned nfindings, nopen;
	int detailed;            /* has a section in "Hosts in detail" */
};

struct finding_view {
	struct json_object *f;
	size_t host; /* index into the sorted host views */
	int sev;
};

struct net_view {
	char label[64];
	unsigned count[NEXP];
	unsigned total;
	size_t first; /* its first host, in address order */
};

static void parse_addr(struct host_view *v)
{
	size_t n;
	const char *a = jstr(v->h, "addr", &n);
	char tmp[64];
	char *pct;

	v->family = 0;
	if (!a || n >= sizeof(tmp))
		return;
	memcpy(tmp, a, n);
	tmp[n] = '\0';
	pct = strchr(tmp, '%'); /* fe80::1%eth0: the zone is no part of the address */
	if (pct)
		*pct = '\0';
	if (inet_pton(AF_INET, tmp, v->ip) == 1)
		v->family = 4;
	else if (inet_pton(AF_INET6, tmp, v->ip) == 1)
		v->family = 6;
}

/* IPv4 before IPv6 before the unparsable, then numerically, then as text. */
static int host_cmp(const void *pa, const void *pb)
{
	const struct host_view *a = pa, *b = pb;
	int fa = a->family ? a->family : 9, fb = b->family ? b->family : 9;
	const char *sa, *sb;
	int c;

	if (fa != fb)
		return fa < fb ? -1 : 1;
	if (a->family) {
		c = memcmp(a->ip, b->ip, a->family == 4 ? 4 : 16);
		if (c)
			return c;
	}
	sa = jstr(a->h, "addr", NULL);
	sb = jstr(b->h, "addr", NULL);
	c = strcmp(sa ? sa : "", sb ? sb : "");
	if (c)
		return c;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* The sort key of the address column: hex of the address (the table's script sorts by text). */
static void addr_key(const struct host_view *v, char *buf, size_t size)
{
	size_t o;
	int n = v->family == 4 ? 4 : 16;

	if (!v->family) {
		snprintf(buf, size, "9-%06zu", v->order);
		return;
	}
	o = (size_t)snprintf(buf, size, "%d-", v->family);
	for (int i = 0; i < n && o + 3 <= size; i++)
		o += (size_t)snprintf(buf + o, size - o, "%02x", v->ip[i]);
}

/* The /24 (IPv4) or /64 (IPv6) of an address, as text. */
static void net_label(const struct host_view *v, char *buf, size_t size)
{
	unsigned char ip[16];
	char a[INET6_ADDRSTRLEN];

	if (!v->family) {
		mh_strlcpy(buf, "other", size);
		return;
	}
	memcpy(ip, v->ip, sizeof(ip));
	if (v->family == 4)
		ip[3] = 0;
	else
		memset(ip + 8, 0, 8);
	if (!inet_ntop(v->family == 4 ? AF_INET : AF_INET6, ip, a, sizeof(a))) {
		mh_strlcpy(buf, "other", size);
		return;
	}
	snprintf(buf, size, "%s/%d", a, v->family == 4 ? 24 : 64);
}

static int finding_cmp(const void *pa, const void *pb)
{
	const struct finding_view *a = pa, *b = pb;
	const char *ia, *ib;
	int c;

	if (a->sev != b->sev)
		return a->sev < b->sev ? -1 : 1;
	if (a->host != b->host)
		return a->host < b->host ? -1 : 1;
	ia = jstr(a->f, "id", NULL);
	ib = jstr(b->f, "id", NULL);
	c = strcmp(ia ? ia : "", ib ? ib : "");
	return c ? c : (a->f < b->f ? -1 : a->f > b->f);
}

static int net_cmp(const void *pa, const void *pb)
{
	const struct net_view *a = pa, *b = pb;

	if (a->count[EXP_EXPOSED] != b->count[EXP_EXPOSED])
		return a->count[EXP_EXPOSED] > b->count[EXP_EXPOSED] ? -1 : 1;
	if (a->count[EXP_LOOPBACK] != b->count[EXP_LOOPBACK])
		return a->count[EXP_LOOPBACK] > b->count[EXP_LOOPBACK] ? -1 : 1;
	if (a->total != b->total)
		return a->total > b->total ? -1 : 1;
	return a->first < b->first ? -1 : a->first > b->first;
}

/* What the page shows about one document (the report's, or the baseline's). */
struct doc_view {
	struct json_object *doc;
	struct host_view *hosts;
	size_t nhosts;
	struct finding_view *findings;
	size_t nfindings;
	struct net_view *nets;
	size_t nnets;
	/* counts: the document's summary where it has them, else counted here */
	long long sum_hosts, sum_open, sum_sev[MH_SEV_COUNT];
	unsigned sev_counted[NSEV]; /* findings counted from the hosts, SEV_UNKNOWN included */
	unsigned exp_count[NEXP];
};

static void view_free(struct doc_view *v)
{
	free(v->hosts);
	free(v->findings);
	free(v->nets);
	memset(v, 0, sizeof(*v));
}

static int view_build(struct json_object *doc, struct doc_view *v)
{
	struct json_object *hosts = jarr(doc, "hosts");
	struct json_object *summary = jget(doc, "summary");
	struct json_object *sf = jget(summary, "findings");
	size_t n = jlen(hosts), nf = 0, k;
	long long open = 0;

	memset(v, 0, sizeof(*v));
	v->doc = doc;
	v->hosts = calloc(n ? n : 1, sizeof(*v->hosts));
	if (!v->hosts)
		return MH_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *h = json_object_array_get_idx(hosts, i);
		struct json_object *ports, *fs;
		struct host_view *hv;

		if (!h || !json_object_is_type(h, json_type_object))
			continue;
		hv = &v->hosts[v->nhosts++];
		hv->h = h;
		hv->order = i;
		hv->worst = SEV_NONE;
		hv->exposure = exp_rank(h);
		parse_addr(hv);
		ports = jarr(h, "ports");
		for (size_t p = 0; p < jlen(ports); p++) {
			const char *st = jstr(json_object_array_get_idx(ports, p), "state", NULL);
			if (st && strcmp(st, "open") == 0)
				hv->nopen++;
		}
		open += hv->nopen;
		fs = jarr(h, "findings");
		for (size_t f = 0; f < jlen(fs); f++) {
			struct json_object *fo = json_object_array_get_idx(fs, f);
			int r;
			if (!fo || !json_object_is_type(fo, json_type_object))
				continue;
			r = sev_rank(fo);
			hv->nfindings++;
			if (r < hv->worst)
				hv->worst = r;
			v->sev_counted[r]++;
		}
		nf += hv->nfindings;
		v->exp_count[hv->exposure]++;
		hv->detailed = hv->nopen || hv->nfindings || jget(h, "local") ||
			       jlen(jarr(h, "probes"));
	}
	qsort(v->hosts, v->nhosts, sizeof(*v->hosts), host_cmp);

	v->findings = calloc(nf ? nf : 1, sizeof(*v->findings));
	v->nets = calloc(v->nhosts ? v->nhosts : 1, sizeof(*v->nets));
	if (!v->findings || !v->nets) {
		view_free(v);
		return MH_ENOMEM;
	}
	for (size_t i = 0; i < v->nhosts; i++) {
		struct json_object *fs = jarr(v->hosts[i].h, "findings");
		char label[64];

		for (size_t f = 0; f < jlen(fs); f++) {
			struct json_object *fo = json_object_array_get_idx(fs, f);
			if (!fo || !json_object_is_type(fo, json_type_object))
				continue;
			v->findings[v->nfindings].f = fo;
			v->findings[v->nfindings].host = i;
			v->findings[v->nfindings].sev = sev_rank(fo);
			v->nfindings++;
		}
		/* hosts are in address order: a network's hosts are adjacent */
		net_label(&v->hosts[i], label, sizeof(label));
		if (!v->nnets || strcmp(v->nets[v->nnets - 1].label, label) != 0) {
			mh_strlcpy(v->nets[v->nnets].label, label, sizeof(label));
			v->nets[v->nnets].first = i;
			v->nnets++;
		}
		v->nets[v->nnets - 1].count[v->hosts[i].exposure]++;
		v->nets[v->nnets - 1].total++;
	}
	qsort(v->findings, v->nfindings, sizeof(*v->findings), finding_cmp);
	qsort(v->nets, v->nnets, sizeof(*v->nets), net_cmp);

	if (!jint(summary, "hosts", &v->sum_hosts))
		v->sum_hosts = (long long)v->nhosts;
	if (!jint(summary, "open_ports", &v->sum_open))
		v->sum_open = open;
	for (k = 0; k < MH_SEV_COUNT; k++)
		if (!jint(sf, mh_severity_name((enum mh_severity)k), &v->sum_sev[k]))
			v->sum_sev[k] = v->sev_counted[k];
	return 0;
}

/* ---- the fixed parts: style sheet and script (hashed into the CSP) ------- */

static const char page_css[] =
	":root{--fg:#1c2430;--muted:#5d6877;--line:#d8dee6;--bg:#f4f6f9;--card:#fff;"
	"--accent:#1d3557;--accent2:#2b4c7e;--crit:#7b1020;--high:#c62828;--med:#e07b00;"
	"--low:#c9a227;--info:#4a6fa5;--ok:#2e7d32}\n"
	"*{box-sizing:border-box}\n"
	"html{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',"
	"Arial,sans-serif;color:var(--fg);background:var(--bg)}\n"
	"body{margin:0}\n"
	"header.top{background:var(--accent);color:#fff;padding:22px 32px 18px}\n"
	"header.top .brand{font-size:12px;letter-spacing:.18em;text-transform:uppercase;"
	"opacity:.75}\n"
	"header.top h1{margin:2px 0 10px;font-size:26px;font-weight:650}\n"
	"header.top dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;"
	"margin:0;font-size:13px}\n"
	"header.top dt{opacity:.7}\nheader.top dd{margin:0;overflow-wrap:anywhere}\n"
	"header.top code{color:#fff;background:rgba(255,255,255,.12);border:0}\n"
	".status{display:inline-block;padding:1px 9px;border-radius:10px;font-weight:700;"
	"font-size:12px}\n"
	".status.ok{background:#d7f0da;color:#1b5e20}\n"
	".status.bad{background:#ffd9d6;color:#8b0000}\n"
	".status.unk{background:#fff1c2;color:#6b4e00}\n"
	".alert{margin:18px 32px 0;padding:14px 18px;border:2px solid var(--high);"
	"border-left-width:10px;background:#fdecea;color:#6d0b0b;border-radius:4px}\n"
	".alert strong{display:block;font-size:17px;letter-spacing:.03em}\n"
	".alert.warn{border-color:var(--med);background:#fff4e0;color:#5a3500}\n"
	"main{max-width:1280px;margin:0 auto;padding:8px 32px 40px}\n"
	"section{margin-top:30px}\n"
	"h2{font-size:19px;margin:0 0 12px;padding-bottom:5px;border-bottom:2px solid "
	"var(--line);color:var(--accent)}\n"
	"h3{font-size:15px;margin:18px 0 6px}\n"
	"p.note,.muted{color:var(--muted)}\np.note{margin:4px 0 10px;font-size:13px}\n"
	".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(128px,1fr));"
	"gap:10px}\n"
	".cardgroup{margin-bottom:14px}\n"
	".cardgroup h3{margin:0 0 6px;font-size:12px;text-transform:uppercase;"
	"letter-spacing:.06em;color:var(--muted)}\n"
	".card{background:var(--card);border:1px solid var(--line);border-top:4px solid "
	"var(--accent2);border-radius:6px;padding:9px 12px 8px}\n"
	".card .n{display:block;font-size:27px;font-weight:700;line-height:1.15}\n"
	".card .l{display:block;color:var(--muted);font-size:12px}\n"
	".card .d{display:block;font-size:12px;font-weight:600}\n"
	".d.worse{color:var(--high)}.d.better{color:var(--ok)}.d.same{color:var(--muted)}\n"
	".card.critical{border-top-color:var(--crit)}.card.high{border-top-color:var(--high)}"
	".card.medium{border-top-color:var(--med)}.card.low{border-top-color:var(--low)}"
	".card.info{border-top-color:var(--info)}\n"
	".card.zero .n{color:#9aa3ae}\n"
	".charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));"
	"gap:16px}\n"
	"figure{margin:0;background:var(--card);border:1px solid var(--line);"
	"border-radius:6px;padding:12px 14px}\n"
	"figcaption{font-weight:650;margin-bottom:6px}\n"
	"svg.chart{width:100%;height:auto;display:block;font-family:inherit}\n"
	"svg.chart text{font-size:12px;fill:#1c2430}\n"
	"svg.chart text.mono{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,"
	"monospace;font-size:11px}\n"
	"svg.chart text.dim{fill:#5d6877}\n"
	".scroll{overflow-x:auto}\n"
	"table{border-collapse:collapse;width:100%;background:var(--card);"
	"border:1px solid var(--line)}\n"
	"th,td{padding:6px 9px;border-bottom:1px solid var(--line);text-align:left;"
	"vertical-align:top}\n"
	"thead th{background:#e9eef4;font-size:12px;font-weight:650;color:#334;"
	"white-space:nowrap}\n"
	"tbody tr:nth-child(even){background:#fafbfc}\n"
	"td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\n"
	"table.kv th{width:200px;background:#f3f5f8;font-weight:600;white-space:nowrap}\n"
	"code,pre,.mono{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;"
	"font-size:12px}\n"
	"code{background:#eef1f5;border:1px solid #e0e5ec;border-radius:3px;padding:0 3px;"
	"overflow-wrap:anywhere}\n"
	"pre{margin:3px 0;padding:6px 8px;white-space:pre-wrap;overflow-wrap:anywhere;"
	"background:#f3f5f8;border:1px solid var(--line);border-radius:4px}\n"
	".badge{display:inline-block;min-width:62px;text-align:center;padding:1px 7px;"
	"border-radius:10px;font-size:11px;font-weight:700;letter-spacing:.03em;"
	"text-transform:uppercase;color:#fff;background:#7a7f87;white-space:nowrap}\n"
	".badge.critical{background:var(--crit)}.badge.high{background:var(--high)}"
	".badge.medium{background:var(--med)}.badge.low{background:var(--low);color:#222}"
	".badge.info{background:var(--info)}.badge.none{background:#e3e7ec;color:#5d6877}\n"
	".tag{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;"
	"border:1px solid var(--line);background:#f6f8fa;white-space:nowrap}\n"
	".tag.exposed{border-color:#e6a5a5;background:#fdecea;color:#8b0000}\n"
	".tag.loopback-only{border-color:#f0c58a;background:#fff4e0;color:#6b3d00}\n"
	".tag.mail-server{border-color:#a9c4e6;background:#eaf2fc;color:#1d3557}\n"
	".tag.err{border-color:#e6a5a5;background:#fdecea;color:#8b0000}\n"
	".finding .t{font-weight:650}\n"
	".lbl{display:block;margin-top:6px;font-size:11px;font-weight:700;"
	"text-transform:uppercase;letter-spacing:.05em;color:var(--muted)}\n"
	".finding p{margin:2px 0}\n"
	".hostcard{background:var(--card);border:1px solid var(--line);border-radius:6px;"
	"padding:10px 14px 12px;margin:0 0 14px}\n"
	".hostcard h3{margin:0 0 6px;font-size:16px}\n"
	".hostcard h3 .mono{font-size:15px}\n"
	".hostcard table{margin-top:6px}\n"
	"table.ports{table-layout:fixed}\n"
	"table.ports th:nth-child(1){width:64px}table.ports th:nth-child(2){width:84px}"
	"table.ports th:nth-child(3){width:84px}\n"
	"td.rule code{white-space:nowrap}\n"
	".hostcard ul{margin:4px 0;padding-left:20px}\n"
	".legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px;color:var(--muted);"
	"margin-bottom:4px}\n"
	".controls{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:0 0 8px}\n"
	".controls input,.controls select{font:inherit;padding:5px 8px;border:1px solid "
	"#b9c2cd;border-radius:4px;background:#fff}\n"
	".controls input{min-width:300px}\n"
	".controls .count{color:var(--muted);font-size:12px}\n"
	"button.sort{font:inherit;font-weight:inherit;color:inherit;text-transform:inherit;"
	"background:none;border:0;padding:0;cursor:pointer}\n"
	"button.sort::after{content:' \\2195';color:#99a3af}\n"
	"th[aria-sort=ascending] button.sort::after{content:' \\25B2';color:var(--accent)}\n"
	"th[aria-sort=descending] button.sort::after{content:' \\25BC';color:var(--accent)}\n"
	"a{color:var(--accent2)}\n"
	"footer{max-width:1280px;margin:0 auto;padding:14px 32px 30px;color:var(--muted);"
	"font-size:12px;border-top:1px solid var(--line)}\n"
	"@media print{\n"
	"html{background:#fff;font-size:10.5px}\n"
	"*{-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
	"@page{size:A4;margin:14mm 12mm}\n"
	".controls,button.sort::after{display:none}\n"
	"header.top{padding:10px 0 8px;background:#fff;color:#000;border-bottom:3px solid "
	"#1d3557}\n"
	"header.top code{color:#000;background:#eef1f5}\n"
	"main,footer{max-width:none;padding-left:0;padding-right:0}\n"
	".alert{margin:10px 0 0}\n"
	"section.page{break-before:page}\n"
	"h2,h3{break-after:avoid}\n"
	"tr,figure,.card,.hostcard,pre{break-inside:avoid}\n"
	"thead{display:table-header-group}\n"
	".charts{grid-template-columns:1fr 1fr;gap:8px}\n"
	".scroll{overflow:visible}\n"
	"th,td{padding:3px 5px}\n"
	"thead th{white-space:normal}\n"
	".badge{min-width:0;padding:0 4px;font-size:9px}\n"
	"td.rule code,.tag{white-space:normal}\n"
	".cards{grid-template-columns:repeat(6,1fr);gap:6px}\n"
	".card .n{font-size:20px}\n"
	"a{color:inherit;text-decoration:none}\n"
	"}\n";

/*
 * Sort buttons and a filter box for every table.sortable. It reads only the
 * DOM (cell text, data-key, data-sev) and writes only textContent and
 * attributes: no document text ever becomes markup or code.
 */
static const char page_js[] =
	"(function () {\n"
	"\t'use strict';\n"
	"\tvar each = function (list, fn) { Array.prototype.forEach.call(list, fn); };\n"
	"\tfunction key(row, i) {\n"
	"\t\tvar c = row.cells[i];\n"
	"\t\tif (!c) { return ''; }\n"
	"\t\tvar k = c.getAttribute('data-key');\n"
	"\t\treturn k !== null ? k : c.textContent.trim().toLowerCase();\n"
	"\t}\n"
	"\tfunction setup(t) {\n"
	"\t\tvar body = t.tBodies[0];\n"
	"\t\tif (!body || !t.tHead) { return; }\n"
	"\t\tvar rows = Array.prototype.slice.call(body.rows);\n"
	"\t\tvar ths = t.tHead.rows[0].cells;\n"
	"\t\teach(ths, function (th, i) {\n"
	"\t\t\tvar b = document.createElement('button');\n"
	"\t\t\tb.type = 'button';\n"
	"\t\t\tb.className = 'sort';\n"
	"\t\t\twhile (th.firstChild) { b.appendChild(th.firstChild); }\n"
	"\t\t\tth.appendChild(b);\n"
	"\t\t\tb.addEventListener('click', function () {\n"
	"\t\t\t\tvar asc = th.getAttribute('aria-sort') !== 'ascending';\n"
	"\t\t\t\tvar num = th.getAttribute('data-type') === 'num';\n"
	"\t\t\t\teach(ths, function (o) { o.removeAttribute('aria-sort'); });\n"
	"\t\t\t\tth.setAttribute('aria-sort', asc ? 'ascending' : 'descending');\n"
	"\t\t\t\tvar keyed = rows.map(function (r, n) { return [key(r, i), n, r]; });\n"
	"\t\t\t\tkeyed.sort(function (x, y) {\n"
	"\t\t\t\t\tvar d;\n"
	"\t\t\t\t\tif (num) { d = (parseFloat(x[0]) || 0) - (parseFloat(y[0]) || 0); }\n"
	"\t\t\t\t\telse { d = x[0] < y[0] ? -1 : (x[0] > y[0] ? 1 : 0); }\n"
	"\t\t\t\t\treturn (asc ? d : -d) || x[1] - y[1];\n"
	"\t\t\t\t});\n"
	"\t\t\t\tkeyed.forEach(function (k) { body.appendChild(k[2]); });\n"
	"\t\t\t});\n"
	"\t\t});\n"
	"\t\tvar bar = document.createElement('div');\n"
	"\t\tbar.className = 'controls';\n"
	"\t\tvar q = document.createElement('input');\n"
	"\t\tq.type = 'search';\n"
	"\t\tq.placeholder = t.getAttribute('data-filter-hint') || 'Filter rows';\n"
	"\t\tq.setAttribute('aria-label', 'Filter rows');\n"
	"\t\tbar.appendChild(q);\n"
	"\t\tvar sel = document.createElement('select');\n"
	"\t\tsel.setAttribute('aria-label', 'Severity');\n"
	"\t\t[['99', 'Any severity'], ['0', 'Critical'], ['1', 'High or worse'],\n"
	"\t\t ['2', 'Medium or worse'], ['3', 'Low or worse'], ['5', 'Any finding']]\n"
	"\t\t\t.forEach(function (o) {\n"
	"\t\t\t\tvar e = document.createElement('option');\n"
	"\t\t\t\te.value = o[0];\n"
	"\t\t\t\te.textContent = o[1];\n"
	"\t\t\t\tsel.appendChild(e);\n"
	"\t\t\t});\n"
	"\t\tbar.appendChild(sel);\n"
	"\t\tvar count = document.createElement('span');\n"
	"\t\tcount.className = 'count';\n"
	"\t\tbar.appendChild(count);\n"
	"\t\tfunction apply() {\n"
	"\t\t\tvar s = q.value.trim().toLowerCase();\n"
	"\t\t\tvar lim = parseInt(sel.value, 10), shown = 0;\n"
	"\t\t\trows.forEach(function (r) {\n"
	"\t\t\t\tvar sev = parseInt(r.getAttribute('data-sev') || '99', 10);\n"
	"\t\t\t\tvar ok = (!s || r.textContent.toLowerCase().indexOf(s) >= 0) &&\n"
	"\t\t\t\t\t(lim === 99 || sev <= lim);\n"
	"\t\t\t\tr.hidden = !ok;\n"
	"\t\t\t\tif (ok) { shown++; }\n"
	"\t\t\t});\n"
	"\t\t\tcount.textContent = shown + ' of ' + rows.length + ' shown';\n"
	"\t\t}\n"
	"\t\tq.addEventListener('input', apply);\n"
	"\t\tsel.addEventListener('change', apply);\n"
	"\t\tapply();\n"
	"\t\tt.parentNode.insertBefore(bar, t);\n"
	"\t}\n"
	"\teach(document.querySelectorAll('table.sortable'), setup);\n"
	"\tdocument.documentElement.setAttribute('data-script', 'ran');\n"
	"})();\n";

/* "sha256-" + base64 of the SHA-256 of s, for the CSP. */
static void csp_hash(const char *s, char *out, size_t size)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];

	SHA256((const unsigned char *)s, strlen(s), md);
	EVP_EncodeBlock(b64, md, SHA256_DIGEST_LENGTH);
	snprintf(out, size, "sha256-%s", (const char *)b64);
}

/* ---- the sections --------------------------------------------------------- */

static void render_head(struct hbuf *b, struct json_object *doc)
{
	char hs[64], hj[64];
	struct json_object *scan = jget(doc, "scan");
	size_t n;
	const char *fin = jstr(scan, "finished", &n);

	csp_hash(page_css, hs, sizeof(hs));
	csp_hash(page_js, hj, sizeof(hj));
	hb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
	hb_printf(b,
		  "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		  "style-src '%s'; script-src '%s'; img-src 'none'; font-src 'none'; "
		  "connect-src 'none'; base-uri 'none'; form-action 'none'\">\n",
		  hs, hj);
	hb_puts(b, "<meta name=\"referrer\" content=\"no-referrer\">\n"
		   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
	hb_printf(b, "<meta name=\"generator\" content=\"mailhole %s\">\n", MH_VERSION);
	hb_puts(b, "<title>mailhole report");
	if (fin && n) {
		hb_puts(b, " &#8211; ");
		hb_esc(b, fin, n);
	}
	hb_puts(b, "</title>\n<style>");
	hb_puts(b, page_css);
	hb_puts(b, "</style>\n</head>\n");
}

/* -1 false, 1 true, 0 absent or not a bool */
static int scan_complete(struct json_object *doc)
{
	struct json_object *c = jget(jget(doc, "scan"), "complete");

	if (!c || !json_object_is_type(c, json_type_boolean))
		return 0;
	return json_object_get_boolean(c) ? 1 : -1;
}

static void render_header(struct hbuf *b, const struct doc_view *v)
{
	struct json_object *scan = jget(v->doc, "scan");
	int complete = scan_complete(v->doc);
	long long targets, done;

	hb_puts(b, "<header class=\"top\">\n<div class=\"brand\">mailhole</div>\n"
		   "<h1>SMTP fleet report</h1>\n<dl>\n<dt>Command</dt><dd>");
	if (jstr(scan, "command_line", NULL)) {
		hb_puts(b, "<code id=\"meta-command-line\">");
		hb_field(b, scan, "command_line");
		hb_puts(b, "</code>");
	} else {
		hb_field(b, scan, "command");
	}
	hb_puts(b, "</dd>\n<dt>Started</dt><dd>");
	hb_field(b, scan, "started");
	hb_puts(b, "</dd>\n<dt>Finished</dt><dd>");
	hb_field(b, scan, "finished");
	hb_puts(b, "</dd>\n<dt>Status</dt><dd>");
	if (complete > 0)
		hb_puts(b, "<span class=\"status ok\" id=\"meta-complete\" data-value=\"true\">"
			   "Complete</span>");
	else if (complete < 0)
		hb_puts(b, "<span class=\"status bad\" id=\"meta-complete\" data-value=\"false\">"
			   "INCOMPLETE</span>");
	else
		hb_puts(b, "<span class=\"status unk\" id=\"meta-complete\" "
			   "data-value=\"unknown\">Not recorded</span>");
	hb_puts(b, "</dd>\n</dl>\n</header>\n");

	if (complete < 0) {
		hb_puts(b, "<div class=\"alert\" role=\"alert\" id=\"incomplete\">"
			   "<strong>INCOMPLETE SCAN</strong>The run was interrupted or failed "
			   "before it finished. The hosts and findings below are only what was "
			   "found until then; hosts not listed were not necessarily checked.");
		if (jint(scan, "targets", &targets) && jint(scan, "hosts_done", &done))
			hb_printf(b, " %lld of %lld target addresses were done.", done, targets);
		hb_puts(b, "</div>\n");
	} else if (complete == 0) {
		hb_puts(b, "<div class=\"alert warn\" role=\"alert\" id=\"incomplete\">"
			   "<strong>Completeness not recorded</strong>This document does not say "
			   "whether the run finished; treat its host list as possibly partial."
			   "</div>\n");
	}
}

/* One summary card; delta shown when base != NULL. worse_up: an increase is bad. */
static void card(struct hbuf *b, const char *id, const char *cls, const char *label,
		 long long n, const long long *base, int worse_up)
{
	hb_printf(b, "<div class=\"card %s%s\"><span class=\"n\" id=\"%s\" data-value=\"%lld\">"
		     "%lld</span><span class=\"l\">%s</span>",
		  cls, n == 0 ? " zero" : "", id, n, n, label);
	if (base) {
		long long d = n - *base;
		const char *dc = d == 0 ? "same" : ((d > 0) == (worse_up > 0) ? "worse" : "better");
		if (worse_up == 0 && d != 0)
			dc = "same";
		if (d == 0)
			hb_printf(b, "<span class=\"d %s\">= baseline</span>", dc);
		else
			hb_printf(b, "<span class=\"d %s\">%+lld vs baseline</span>", dc, d);
	}
	hb_puts(b, "</div>\n");
}

static void render_summary(struct hbuf *b, const struct doc_view *v, const struct doc_view *base)
{
	char id[48];
	long long total = 0, btotal = 0, bn;

	hb_puts(b, "<section id=\"summary\">\n<h2>Summary</h2>\n");
	hb_puts(b, "<div class=\"cardgroup\"><h3>Scope</h3><div class=\"cards\">\n");
	card(b, "sum-hosts", "", "Hosts", v->sum_hosts, base ? &base->sum_hosts : NULL, 0);
	card(b, "sum-open-ports", "", "Open ports", v->sum_open, base ? &base->sum_open : NULL,
	     1);
	for (int k = 0; k < MH_SEV_COUNT; k++) {
		total += v->sum_sev[k];
		if (base)
			btotal += base->sum_sev[k];
	}
	card(b, "sum-findings-total", "", "Findings", total, base ? &btotal : NULL, 1);
	hb_puts(b, "</div></div>\n<div class=\"cardgroup\"><h3>Findings by severity</h3>"
		   "<div class=\"cards\">\n");
	for (int k = 0; k < MH_SEV_COUNT; k++) {
		snprintf(id, sizeof(id), "sum-findings-%s", sev_class[k]);
		card(b, id, sev_class[k], sev_label[k], v->sum_sev[k],
		     base ? &base->sum_sev[k] : NULL, 1);
	}
	hb_puts(b, "</div></div>\n<div class=\"cardgroup\"><h3>Exposure (hosts)</h3>"
		   "<div class=\"cards\">\n");
	for (int e = 0; e < NEXP; e++) {
		snprintf(id, sizeof(id), "sum-exposure-%s", exp_name[e]);
		bn = base ? base->exp_count[e] : 0;
		card(b, id, e == EXP_EXPOSED ? "high" : (e == EXP_LOOPBACK ? "medium" : ""),
		     exp_label[e], v->exp_count[e], base ? &bn : NULL, e <= EXP_LOOPBACK);
	}
	hb_puts(b, "</div></div>\n");
	if (v->sev_counted[SEV_UNKNOWN])
		hb_printf(b, "<p class=\"note\">%u finding(s) carry a severity this version "
			     "does not know; they are listed as <span class=\"badge\">unknown"
			     "</span>.</p>\n",
			  v->sev_counted[SEV_UNKNOWN]);
	hb_puts(b, "</section>\n");
}

static void render_sev_chart(struct hbuf *b, const struct doc_view *v)
{
	const int left = 92, width = 380, row = 30, top = 8;
	long long max = 1;
	int h = top * 2 + row * MH_SEV_COUNT;

	for (int k = 0; k < MH_SEV_COUNT; k++)
		if (v->sum_sev[k] > max)
			max = v->sum_sev[k];
	hb_puts(b, "<figure id=\"chart-severity\"><figcaption>Findings by severity</figcaption>\n");
	hb_printf(b, "<svg class=\"chart\" viewBox=\"0 0 540 %d\" role=\"img\" "
		     "aria-label=\"Findings by severity\">\n", h);
	for (int k = 0; k < MH_SEV_COUNT; k++) {
		int y = top + k * row;
		double w = (double)width * (double)v->sum_sev[k] / (double)max;
		if (v->sum_sev[k] > 0 && w < 2)
			w = 2;
		hb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>", left - 10,
			  y + 19, sev_label[k]);
		hb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"22\" "
			     "fill=\"#eef1f5\"/>",
			  left, y + 4, width);
		hb_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"22\" rx=\"2\" "
			     "fill=\"%s\"><title>%s: %lld</title></rect>",
			  left, y + 4, w, sev_color[k], sev_label[k], v->sum_sev[k]);
		hb_printf(b, "<text x=\"%d\" y=\"%d\" font-weight=\"700\">%lld</text>\n",
			  left + width + 8, y + 19, v->sum_sev[k]);
	}
	hb_puts(b, "</svg></figure>\n");
}

#define MAX_NETS_CHARTED 20

static void render_net_chart(struct hbuf *b, const struct doc_view *v)
{
	const int left = 178, width = 250, row = 24, top = 6;
	size_t shown = v->nnets < MAX_NETS_CHARTED ? v->nnets : MAX_NETS_CHARTED;
	unsigned max = 1;
	int h = top * 2 + row * (int)(shown ? shown : 1);

	for (size_t i = 0; i < shown; i++)
		if (v->nets[i].total > max)
			max = v->nets[i].total;
	hb_puts(b, "<figure id=\"chart-networks\"><figcaption>Exposure by network "
		   "(IPv4 /24, IPv6 /64)</figcaption>\n<div class=\"legend\">");
	for (int e = 0; e < NEXP; e++)
		hb_printf(b, "<span><svg width=\"10\" height=\"10\" aria-hidden=\"true\">"
			     "<rect width=\"10\" height=\"10\" fill=\"%s\"/></svg> %s</span>",
			  exp_color[e], exp_label[e]);
	hb_puts(b, "</div>\n");
	hb_printf(b, "<svg class=\"chart\" viewBox=\"0 0 540 %d\" role=\"img\" "
		     "aria-label=\"Hosts by network and exposure\">\n", h);
	if (!shown)
		hb_printf(b, "<text x=\"10\" y=\"%d\" class=\"dim\">No hosts.</text>\n", top + 16);
	for (size_t i = 0; i < shown; i++) {
		const struct net_view *n = &v->nets[i];
		int y = top + (int)i * row;
		double x = left;

		hb_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"mono\">",
			  left - 8, y + 16);
		hb_escs(b, n->label);
		hb_puts(b, "</text>");
		for (int e = 0; e < NEXP; e++) {
			double w = (double)width * n->count[e] / max;
			if (!n->count[e])
				continue;
			hb_printf(b, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"18\" "
				     "fill=\"%s\"><title>",
				  x, y + 3, w, exp_color[e]);
			hb_escs(b, n->label);
			hb_printf(b, ": %u %s</title></rect>", n->count[e], exp_label[e]);
			x += w;
		}
		hb_printf(b, "<text x=\"%.1f\" y=\"%d\" class=\"dim\">", x + 6, y + 16);
		if (n->count[EXP_EXPOSED])
			hb_printf(b, "%u exposed of %u", n->count[EXP_EXPOSED], n->total);
		else
			hb_printf(b, "%u host%s", n->total, n->total == 1 ? "" : "s");
		hb_puts(b, "</text>\n");
	}
	hb_puts(b, "</svg>\n");
	if (v->nnets > shown)
		hb_printf(b, "<p class=\"note\">The %zu networks with the most exposed hosts are "
			     "shown; %zu more are in the host table.</p>\n",
			  shown, v->nnets - shown);
	hb_puts(b, "</figure>\n");
}

static void render_charts(struct hbuf *b, const struct doc_view *v)
{
	hb_puts(b, "<section id=\"charts\">\n<h2>At a glance</h2>\n<div class=\"charts\">\n");
	render_sev_chart(b, v);
	render_net_chart(b, v);
	hb_puts(b, "</div>\n</section>\n");
}

static void sev_badge(struct hbuf *b, int sev)
{
	hb_printf(b, "<span class=\"badge %s\">%s</span>", sev_class[sev],
		  sev == SEV_NONE ? "none" : sev_class[sev]);
}

/* ---- the trend against a baseline ----------------------------------------- */

struct fkey {
	const char *addr, *id;
	struct json_object *f;
	int sev;
};

static int fkey_cmp(const void *pa, const void *pb)
{
	const struct fkey *a = pa, *b = pb;
	int c = strcmp(a->addr, b->addr);

	return c ? c : strcmp(a->id, b->id);
}

/* The findings of v keyed by host addr + rule id, sorted, one per key. */
static struct fkey *fkeys(const struct doc_view *v, size_t *count)
{
	struct fkey *k = calloc(v->nfindings ? v->nfindings : 1, sizeof(*k));
	size_t n = 0, o = 0;

	if (!k)
		return NULL;
	for (size_t i = 0; i < v->nfindings; i++) {
		const char *addr = jstr(v->hosts[v->findings[i].host].h, "addr", NULL);
		const char *id = jstr(v->findings[i].f, "id", NULL);
		if (!addr || !id)
			continue;
		k[n].addr = addr;
		k[n].id = id;
		k[n].f = v->findings[i].f;
		k[n].sev = v->findings[i].sev;
		n++;
	}
	qsort(k, n, sizeof(*k), fkey_cmp);
	for (size_t i = 0; i < n; i++)
		if (o == 0 || fkey_cmp(&k[o - 1], &k[i]) != 0)
			k[o++] = k[i];
	*count = o;
	return k;
}

static void trend_table(struct hbuf *b, const char *id, const char *title,
			struct fkey *const *list, size_t n)
{
	hb_printf(b, "<h3>%s <span class=\"muted\">(%zu)</span></h3>\n", title, n);
	if (!n) {
		hb_puts(b, "<p class=\"note\">None.</p>\n");
		return;
	}
	hb_printf(b, "<div class=\"scroll\"><table id=\"%s\"><thead><tr><th>Severity</th>"
		     "<th>Host</th><th>Rule</th><th>Title</th></tr></thead><tbody>\n",
		  id);
	for (size_t i = 0; i < n; i++) {
		hb_puts(b, "<tr><td>");
		sev_badge(b, list[i]->sev);
		hb_puts(b, "</td><td class=\"mono\">");
		hb_escs(b, list[i]->addr);
		hb_puts(b, "</td><td><code>");
		hb_escs(b, list[i]->id);
		hb_puts(b, "</code></td><td>");
		hb_field(b, list[i]->f, "title");
		hb_puts(b, "</td></tr>\n");
	}
	hb_puts(b, "</tbody></table></div>\n");
}

static int sev_order(const void *pa, const void *pb)
{
	const struct fkey *a = *(struct fkey *const *)pa, *b = *(struct fkey *const *)pb;

	if (a->sev != b->sev)
		return a->sev < b->sev ? -1 : 1;
	return fkey_cmp(a, b);
}

static int render_trend(struct hbuf *b, const struct doc_view *v, const struct doc_view *base)
{
	size_t nn, no, i = 0, j = 0, cn = 0, cf = 0, cu = 0;
	struct fkey *kn = fkeys(v, &nn), *ko = fkeys(base, &no);
	struct fkey **lnew = calloc(nn + 1, sizeof(*lnew));
	struct fkey **lfix = calloc(no + 1, sizeof(*lfix));
	struct fkey **lsame = calloc(nn + 1, sizeof(*lsame));
	struct json_object *bscan = jget(base->doc, "scan");
	const char *labels[] = { "Hosts", "Open ports", "Critical", "High", "Medium", "Low",
				 "Info", "Exposed hosts" };
	long long now[8], then[8];
	int rc = MH_ENOMEM;

	if (!kn || !ko || !lnew || !lfix || !lsame)
		goto out;
	while (i < nn || j < no) {
		int c = i >= nn ? 1 : (j >= no ? -1 : fkey_cmp(&kn[i], &ko[j]));
		if (c < 0)
			lnew[cn++] = &kn[i++];
		else if (c > 0)
			lfix[cf++] = &ko[j++];
		else {
			lsame[cu++] = &kn[i++];
			j++;
		}
	}
	qsort(lnew, cn, sizeof(*lnew), sev_order);
	qsort(lfix, cf, sizeof(*lfix), sev_order);
	qsort(lsame, cu, sizeof(*lsame), sev_order);

	hb_puts(b, "<section id=\"trend\" class=\"page\">\n<h2>Trend against the baseline</h2>\n"
		   "<p class=\"note\">Baseline: ");
	hb_field(b, bscan, "command_line");
	hb_puts(b, ", finished ");
	hb_field(b, bscan, "finished");
	hb_puts(b, ". Findings are matched by host address and rule ID.</p>\n"
		   "<div class=\"cards\">\n");
	hb_printf(b, "<div class=\"card high\"><span class=\"n\" id=\"trend-new\" "
		     "data-value=\"%zu\">%zu</span><span class=\"l\">New findings</span></div>\n"
		     "<div class=\"card\"><span class=\"n\" id=\"trend-fixed\" "
		     "data-value=\"%zu\">%zu</span><span class=\"l\">Fixed</span></div>\n"
		     "<div class=\"card\"><span class=\"n\" id=\"trend-unchanged\" "
		     "data-value=\"%zu\">%zu</span><span class=\"l\">Unchanged</span></div>\n"
		     "</div>\n",
		  cn, cn, cf, cf, cu, cu);

	now[0] = v->sum_hosts;
	then[0] = base->sum_hosts;
	now[1] = v->sum_open;
	then[1] = base->sum_open;
	for (int k = 0; k < MH_SEV_COUNT; k++) {
		now[2 + k] = v->sum_sev[k];
		then[2 + k] = base->sum_sev[k];
	}
	now[7] = v->exp_count[EXP_EXPOSED];
	then[7] = base->exp_count[EXP_EXPOSED];
	hb_puts(b, "<h3>Summary deltas</h3>\n<table id=\"trend-deltas\"><thead><tr><th></th>"
		   "<th class=\"num\">Baseline</th><th class=\"num\">Now</th>"
		   "<th class=\"num\">Change</th></tr></thead><tbody>\n");
	for (int k = 0; k < 8; k++) {
		long long d = now[k] - then[k];
		const char *cls = d == 0 || k == 0 ? "same" : (d > 0 ? "worse" : "better");
		hb_printf(b, "<tr><th>%s</th><td class=\"num\">%lld</td><td class=\"num\">%lld</td>"
			     "<td class=\"num d %s\">%+lld</td></tr>\n",
			  labels[k], then[k], now[k], cls, d);
	}
	hb_puts(b, "</tbody></table>\n");
	trend_table(b, "trend-new-table", "New findings", lnew, cn);
	trend_table(b, "trend-fixed-table", "Fixed findings", lfix, cf);
	trend_table(b, "trend-unchanged-table", "Unchanged findings", lsame, cu);
	hb_puts(b, "</section>\n");
	rc = 0;
out:
	free(kn);
	free(ko);
	free(lnew);
	free(lfix);
	free(lsame);
	return rc;
}

/* ---- hosts ------------------------------------------------------------------ */

/* The MTA products (and versions) of a host's open ports, each once. */
static void host_mta(struct hbuf *b, struct json_object *h)
{
	struct json_object *ports = jarr(h, "ports");
	struct json_object *seen[16];
	size_t nseen = 0;

	for (size_t p = 0; p < jlen(ports); p++) {
		struct json_object *mta = jget(jget(json_object_array_get_idx(ports, p), "smtp"),
					       "mta");
		const char *prod = jstr(mta, "product", NULL), *ver = jstr(mta, "version", NULL);
		int dup = 0;
		if (!prod)
			continue;
		for (size_t s = 0; s < nseen; s++) {
			const char *sp = jstr(seen[s], "product", NULL);
			const char *sv = jstr(seen[s], "version", NULL);
			if (strcmp(sp, prod) == 0 &&
			    ((!sv && !ver) || (sv && ver && strcmp(sv, ver) == 0)))
				dup = 1;
		}
		if (dup || nseen == sizeof(seen) / sizeof(seen[0]))
			continue;
		if (nseen)
			hb_puts(b, "<br>");
		seen[nseen++] = mta;
		hb_field(b, mta, "product");
		if (ver) {
			hb_puts(b, " ");
			hb_field(b, mta, "version");
		}
	}
	if (!nseen)
		hb_puts(b, "<span class=\"muted\">&#8212;</span>");
}

static void render_host_table(struct hbuf *b, const struct doc_view *v)
{
	char key[48];

	hb_puts(b, "<section id=\"hosts\" class=\"page\">\n<h2>Hosts</h2>\n");
	hb_printf(b, "<p class=\"note\">%zu host record%s, in address order.</p>\n", v->nhosts,
		  v->nhosts == 1 ? "" : "s");
	hb_puts(b, "<div class=\"scroll\"><table id=\"hosts-table\" class=\"sortable\" "
		   "data-filter-hint=\"Filter: address, name, product, rule...\">\n<thead><tr>"
		   "<th>Address</th><th>Names</th><th>Role</th><th>Exposure</th>"
		   "<th data-type=\"num\">Open ports</th><th>MTA</th><th>Worst finding</th>"
		   "<th data-type=\"num\" class=\"num\">Findings</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < v->nhosts; i++) {
		const struct host_view *hv = &v->hosts[i];
		struct json_object *h = hv->h, *names = jarr(h, "names"), *ports = jarr(h, "ports");
		struct json_object *fs = jarr(h, "findings"), *worst = NULL;
		size_t sep = 0;
		const char *role = jstr(h, "role", NULL);

		addr_key(hv, key, sizeof(key));
		hb_printf(b, "<tr class=\"host-row\" id=\"host-%zu\" data-sev=\"%d\">"
			     "<td class=\"mono\" data-key=\"%s\">",
			  i, hv->worst, key);
		if (hv->detailed)
			hb_printf(b, "<a href=\"#h-%zu\">", i);
		hb_field(b, h, "addr");
		hb_puts(b, hv->detailed ? "</a></td><td>" : "</td><td>");
		for (size_t k = 0; k < jlen(names); k++) {
			if (k)
				hb_puts(b, "<br>");
			hb_value(b, json_object_array_get_idx(names, k));
		}
		if (!jlen(names))
			hb_puts(b, "<span class=\"muted\">&#8212;</span>");
		hb_puts(b, "</td><td>");
		if (role && strcmp(role, "mail-server") == 0)
			hb_puts(b, "<span class=\"tag mail-server\">mail-server</span>");
		else
			hb_field(b, h, "role");
		hb_printf(b, "</td><td data-key=\"%d\"><span class=\"tag %s\">%s</span></td>",
			  hv->exposure, exp_name[hv->exposure], exp_name[hv->exposure]);
		hb_printf(b, "<td data-key=\"%u\">", hv->nopen);
		for (size_t p = 0; p < jlen(ports); p++) {
			struct json_object *po = json_object_array_get_idx(ports, p);
			const char *st = jstr(po, "state", NULL);
			if (!st || strcmp(st, "open") != 0)
				continue;
			hb_puts(b, sep++ ? ", " : "");
			hb_value(b, jget(po, "port"));
		}
		if (!hv->nopen)
			hb_puts(b, "<span class=\"muted\">&#8212;</span>");
		hb_puts(b, "</td><td>");
		host_mta(b, h);
		for (size_t f = 0; f < jlen(fs); f++) {
			struct json_object *fo = json_object_array_get_idx(fs, f);
			if (fo && json_object_is_type(fo, json_type_object) &&
			    sev_rank(fo) == hv->worst) {
				worst = fo;
				break;
			}
		}
		hb_printf(b, "</td><td data-key=\"%d\">", hv->worst);
		sev_badge(b, hv->worst);
		if (worst) {
			hb_puts(b, " <code>");
			hb_field(b, worst, "id");
			hb_puts(b, "</code>");
		}
		hb_printf(b, "</td><td class=\"num\">%u</td></tr>\n", hv->nfindings);
	}
	hb_puts(b, "</tbody></table></div>\n</section>\n");
}

static void render_findings(struct hbuf *b, const struct doc_view *v)
{
	hb_puts(b, "<section id=\"findings\" class=\"page\">\n<h2>Findings</h2>\n");
	if (!v->nfindings) {
		hb_puts(b, "<p class=\"note\">No findings.</p>\n</section>\n");
		return;
	}
	hb_printf(b, "<p class=\"note\">%zu finding%s, worst first. Each gives the evidence "
		     "observed and the remediation.</p>\n",
		  v->nfindings, v->nfindings == 1 ? "" : "s");
	hb_puts(b, "<div class=\"scroll\"><table id=\"findings-table\" class=\"sortable\" "
		   "data-filter-hint=\"Filter: rule, host, evidence...\">\n<thead><tr>"
		   "<th>Severity</th><th>Rule</th><th>Host</th><th>Finding, evidence and "
		   "remediation</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < v->nfindings; i++) {
		const struct finding_view *fv = &v->findings[i];
		const struct host_view *hv = &v->hosts[fv->host];
		const char *id = jstr(fv->f, "id", NULL);
		const struct mh_rule *rule = id ? mh_rule_find(id) : NULL;
		size_t n;
		const char *ev = jstr(fv->f, "evidence", &n);

		hb_printf(b, "<tr class=\"finding\" id=\"f-%zu\" data-sev=\"%d\">"
			     "<td data-key=\"%d\">",
			  i, fv->sev, fv->sev);
		sev_badge(b, fv->sev);
		hb_puts(b, "</td><td class=\"rule\"><code>");
		hb_field(b, fv->f, "id");
		hb_printf(b, "</code></td><td class=\"mono\"><a href=\"#h-%zu\">", fv->host);
		hb_field(b, hv->h, "addr");
		hb_puts(b, "</a></td><td><span class=\"t\">");
		hb_field(b, fv->f, "title");
		hb_puts(b, "</span>");
		if (rule && rule->rationale) {
			hb_puts(b, "<p class=\"muted\">");
			hb_escs(b, rule->rationale);
			hb_puts(b, "</p>");
		}
		hb_puts(b, "<span class=\"lbl\">Evidence</span>");
		if (ev && n) {
			hb_puts(b, "<pre class=\"evidence\">");
			hb_esc(b, ev, n);
			hb_puts(b, "</pre>");
		} else {
			hb_puts(b, "<p class=\"muted\">none recorded</p>");
		}
		hb_puts(b, "<span class=\"lbl\">Remediation</span><p class=\"remediation\">");
		hb_field(b, fv->f, "remediation");
		hb_puts(b, "</p></td></tr>\n");
	}
	hb_puts(b, "</tbody></table></div>\n</section>\n");
}

/* --vrfy and --relay-test: the verdicts, the accepted pairs, the message. */
static void render_smtp_checks(struct hbuf *b, struct json_object *smtp)
{
	struct json_object *chk = jget(smtp, "vrfy_check"), *relay = jget(smtp, "relay"), *v;
	long long n = 0;

	if (chk && json_object_is_type(chk, json_type_object)) {
		hb_puts(b, "<span class=\"lbl\">VRFY / EXPN</span><p>VRFY ");
		hb_value(b, jget(smtp, "vrfy"));
		hb_puts(b, ", EXPN ");
		hb_value(b, jget(smtp, "expn"));
		if (jstr(chk, "error", NULL)) {
			hb_puts(b, " <span class=\"muted\">(");
			hb_field(b, chk, "error");
			hb_puts(b, ")</span>");
		}
		hb_puts(b, "</p>");
	}
	if (relay && json_object_is_type(relay, json_type_object)) {
		struct json_object *acc = jarr(relay, "accepted");
		hb_puts(b, "<span class=\"lbl\">Open-relay test</span><p>");
		jint(relay, "tested", &n);
		hb_printf(b, "%zu of %lld pairs accepted toward ", jlen(acc), n);
		hb_field(b, relay, "domain");
		for (size_t k = 0; k < jlen(acc); k++) {
			hb_puts(b, k ? " <code>" : "<br><code>");
			hb_value(b, json_object_array_get_idx(acc, k));
			hb_puts(b, "</code>");
		}
		if ((v = jget(relay, "data")) && json_object_is_type(v, json_type_object)) {
			hb_puts(b, "<br>message <code>");
			hb_field(b, v, "tag");
			hb_puts(b, "</code>: ");
			hb_field(b, v, "reply");
		}
		if (jstr(relay, "error", NULL)) {
			hb_puts(b, "<br><span class=\"muted\">");
			hb_field(b, relay, "error");
			hb_puts(b, "</span>");
		}
		hb_puts(b, "</p>");
	}
}

static void render_smtp(struct hbuf *b, struct json_object *po)
{
	struct json_object *smtp = jget(po, "smtp"), *ehlo, *caps, *v;
	size_t n;
	const char *s;

	if (!smtp || !json_object_is_type(smtp, json_type_object)) {
		if (jstr(po, "note", NULL)) {
			hb_puts(b, "<span class=\"muted\">no session: ");
			hb_field(b, po, "note");
			hb_puts(b, "</span>");
		} else {
			hb_puts(b, "<span class=\"muted\">&#8212;</span>");
		}
		return;
	}
	if ((s = jstr(smtp, "error", &n))) {
		hb_puts(b, "<span class=\"tag err\">");
		hb_esc(b, s, n);
		hb_puts(b, "</span>");
		if (jstr(smtp, "error_detail", NULL)) {
			hb_puts(b, "<pre class=\"error-detail\">");
			hb_field(b, smtp, "error_detail");
			hb_puts(b, "</pre>");
		}
	}
	if ((s = jstr(smtp, "banner", &n))) {
		hb_puts(b, "<span class=\"lbl\">Banner");
		if ((v = jget(smtp, "code"))) {
			hb_puts(b, " (");
			hb_value(b, v);
			hb_puts(b, ")");
		}
		hb_puts(b, "</span><pre class=\"banner\">");
		hb_esc(b, s, n);
		hb_puts(b, "</pre>");
	}
	ehlo = jget(smtp, "ehlo");
	if (ehlo && json_object_is_type(ehlo, json_type_object)) {
		struct json_object *helo = jget(ehlo, "helo");
		hb_puts(b, "<span class=\"lbl\">");
		hb_puts(b, helo && json_object_get_boolean(helo) ? "HELO" : "EHLO");
		if ((v = jget(ehlo, "code"))) {
			hb_puts(b, " (");
			hb_value(b, v);
			hb_puts(b, ")");
		}
		hb_puts(b, "</span><p><span class=\"ehlo-name\">");
		hb_field(b, ehlo, "name");
		hb_puts(b, "</span>");
		caps = jarr(ehlo, "capabilities");
		if (jlen(caps)) {
			hb_puts(b, "<br>");
			for (size_t k = 0; k < jlen(caps); k++) {
				hb_puts(b, k ? " <code>" : "<code>");
				hb_value(b, json_object_array_get_idx(caps, k));
				hb_puts(b, "</code>");
			}
		}
		hb_puts(b, "</p>");
	}
	render_smtp_checks(b, smtp);
}

/* A table of an array of objects with the given columns (local, probes). */
static void object_table(struct hbuf *b, const char *caption, struct json_object *arr,
			 const char *const *cols)
{
	if (!jlen(arr))
		return;
	hb_printf(b, "<span class=\"lbl\">%s</span><table><thead><tr>", caption);
	for (size_t c = 0; cols[c]; c++) {
		hb_puts(b, "<th>");
		hb_escs(b, cols[c]);
		hb_puts(b, "</th>");
	}
	hb_puts(b, "</tr></thead><tbody>\n");
	for (size_t i = 0; i < jlen(arr); i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		hb_puts(b, "<tr>");
		for (size_t c = 0; cols[c]; c++) {
			struct json_object *val = jget(o, cols[c]);
			hb_puts(b, "<td>");
			if (val)
				hb_value(b, val);
			else
				hb_puts(b, "<span class=\"muted\">&#8212;</span>");
			hb_puts(b, "</td>");
		}
		hb_puts(b, "</tr>\n");
	}
	hb_puts(b, "</tbody></table>\n");
}

static void render_local(struct hbuf *b, struct json_object *local)
{
	static const char *const ifcols[] = { "name", "addr", "ports", NULL };
	static const char *const lscols[] = { "addr", "port", "process", "pid", NULL };
	static const char *const qcols[] = { "name", "path", "count", "oldest", "stuck", "why",
					     NULL };
	static const char *const rcols[] = { "kind", "covers", "active", "what", "where", NULL };
	struct json_object *mta = jget(local, "mta");

	if (!local || !json_object_is_type(local, json_type_object))
		return;
	hb_puts(b, "<div class=\"finding\">");
	if (mta && json_object_is_type(mta, json_type_object)) {
		hb_puts(b, "<span class=\"lbl\">Local MTA</span><p>");
		hb_field(b, mta, "product");
		if (jstr(mta, "config", NULL)) {
			hb_puts(b, " &#8212; configuration <code>");
			hb_field(b, mta, "config");
			hb_puts(b, "</code>");
		}
		if (jget(mta, "masquerade")) {
			hb_puts(b, "<br>masquerade: <code>");
			hb_value(b, jget(mta, "masquerade"));
			hb_puts(b, "</code>");
		}
		hb_puts(b, "</p>");
	}
	object_table(b, "Interfaces", jarr(local, "interfaces"), ifcols);
	object_table(b, "Listeners", jarr(local, "listeners"), lscols);
	object_table(b, "Local queues", jarr(local, "queue"), qcols);
	if (jget(local, "queue_runner"))
		object_table(b, "Queue runners", jarr(jget(local, "queue_runner"), "runners"),
			     rcols);
	hb_puts(b, "</div>\n");
}

/* The probes of a host (mailhole probe): verdict and the evidence that decided it. */
static void render_probes(struct hbuf *b, struct json_object *probes)
{
	static const char *const ev_keys[] = { "status", "diagnostic", "return_path", "sender",
					       "received_first_hop", "submit_reply", NULL };

	if (!jlen(probes))
		return;
	hb_puts(b, "<span class=\"lbl\">Probes</span><table><thead><tr><th>kind</th><th>tag</th>"
		   "<th>rcpt</th><th>verdict</th><th>decided by</th><th>evidence</th></tr>"
		   "</thead><tbody>\n");
	for (size_t i = 0; i < jlen(probes); i++) {
		struct json_object *o = json_object_array_get_idx(probes, i), *ev = jget(o, "evidence");
		bool any = false;
		hb_puts(b, "<tr><td>");
		hb_field(b, o, "kind");
		if (jget(o, "variant")) {
			hb_puts(b, " ");
			hb_field(b, o, "variant");
		}
		hb_puts(b, "</td><td><code>");
		hb_field(b, o, "tag");
		hb_puts(b, "</code></td><td>");
		hb_field(b, o, "rcpt");
		hb_puts(b, "</td><td><strong>");
		hb_field(b, o, "verdict");
		hb_puts(b, "</strong></td><td>");
		hb_field(b, ev, "decided_by");
		hb_puts(b, "</td><td>");
		for (size_t k = 0; ev_keys[k]; k++) {
			struct json_object *x = jget(ev, ev_keys[k]);
			if (!x || !json_object_is_type(x, json_type_string))
				continue;
			hb_puts(b, any ? "<br>" : "");
			hb_escs(b, ev_keys[k]);
			hb_puts(b, ": ");
			hb_value(b, x);
			any = true;
		}
		if (!any)
			hb_puts(b, "<span class=\"muted\">&#8212;</span>");
		hb_puts(b, "</td></tr>\n");
	}
	hb_puts(b, "</tbody></table>\n");
}

static void render_details(struct hbuf *b, const struct doc_view *v)
{
	size_t quiet = 0;

	hb_puts(b, "<section id=\"details\" class=\"page\">\n<h2>Hosts in detail</h2>\n");
	for (size_t i = 0; i < v->nhosts; i++) {
		const struct host_view *hv = &v->hosts[i];
		struct json_object *h = hv->h, *ports = jarr(h, "ports"), *names = jarr(h, "names");
		const char *role = jstr(h, "role", NULL);

		if (!hv->detailed) {
			quiet++;
			continue;
		}
		hb_printf(b, "<div class=\"hostcard\" id=\"h-%zu\">\n<h3><span class=\"mono\">", i);
		hb_field(b, h, "addr");
		hb_puts(b, "</span>");
		for (size_t k = 0; k < jlen(names); k++) {
			hb_puts(b, k ? ", " : " &#8212; ");
			hb_value(b, json_object_array_get_idx(names, k));
		}
		hb_printf(b, " <span class=\"tag %s\">%s</span>", exp_name[hv->exposure],
			  exp_name[hv->exposure]);
		if (role) {
			hb_printf(b, " <span class=\"tag%s\">",
				  strcmp(role, "mail-server") == 0 ? " mail-server" : "");
			hb_escs(b, role);
			hb_puts(b, "</span>");
		}
		hb_puts(b, "</h3>\n");
		if (jlen(ports)) {
			hb_puts(b, "<table class=\"ports\"><thead><tr><th class=\"num\">Port</th>"
				   "<th>State</th><th class=\"num\">RTT</th><th>SMTP session</th>"
				   "</tr></thead><tbody>\n");
			for (size_t p = 0; p < jlen(ports); p++) {
				struct json_object *po = json_object_array_get_idx(ports, p);
				struct json_object *rtt = jget(po, "rtt_ms");
				hb_puts(b, "<tr class=\"finding\"><td class=\"num\">");
				hb_value(b, jget(po, "port"));
				hb_puts(b, "</td><td>");
				hb_field(b, po, "state");
				hb_puts(b, "</td><td class=\"num\">");
				if (rtt && (json_object_is_type(rtt, json_type_double) ||
					    json_object_is_type(rtt, json_type_int)))
					hb_printf(b, "%.1f&#8239;ms", json_object_get_double(rtt));
				else
					hb_puts(b, "<span class=\"muted\">&#8212;</span>");
				hb_puts(b, "</td><td>");
				render_smtp(b, po);
				hb_puts(b, "</td></tr>\n");
			}
			hb_puts(b, "</tbody></table>\n");
		}
		render_local(b, jget(h, "local"));
		render_probes(b, jarr(h, "probes"));
		if (hv->nfindings) {
			hb_puts(b, "<span class=\"lbl\">Findings</span><ul>\n");
			for (size_t f = 0; f < v->nfindings; f++) {
				if (v->findings[f].host != i)
					continue;
				hb_puts(b, "<li>");
				sev_badge(b, v->findings[f].sev);
				hb_printf(b, " <a href=\"#f-%zu\"><code>", f);
				hb_field(b, v->findings[f].f, "id");
				hb_puts(b, "</code></a> ");
				hb_field(b, v->findings[f].f, "title");
				hb_puts(b, "</li>\n");
			}
			hb_puts(b, "</ul>\n");
		}
		hb_puts(b, "</div>\n");
	}
	if (quiet)
		hb_printf(b, "<p class=\"note\">%zu host%s with no open port and no finding %s "
			     "listed in the host table only.</p>\n",
			  quiet, quiet == 1 ? "" : "s", quiet == 1 ? "is" : "are");
	hb_puts(b, "</section>\n");
}

static void kv_row(struct hbuf *b, const char *label, struct json_object *v)
{
	int code = v && json_object_is_type(v, json_type_string) &&
		   strcmp(label, "Command line") == 0;

	hb_puts(b, "<tr><th>");
	hb_escs(b, label);
	hb_puts(b, code ? "</th><td><code>" : "</th><td>");
	hb_value(b, v);
	hb_puts(b, code ? "</code></td></tr>\n" : "</td></tr>\n");
}

static void render_meta(struct hbuf *b, const struct doc_view *v)
{
	static const char *const known[][2] = {
		{ "tool", "Tool" }, { "tool_version", "Version" }, { "command", "Command" },
		{ "command_line", "Command line" }, { "started", "Started" },
		{ "finished", "Finished" }, { "duration_s", "Duration (s)" },
		{ "complete", "Complete" }, { "ports", "Ports" }, { "targets", "Targets" },
		{ "hosts_done", "Hosts done" }, { "probes", "Connect attempts" },
		{ "seed", "Seed" }, { "shard", "Shard" }, { "threads", "Threads" },
		{ "concurrency", "Concurrency" }, { "rate", "Rate (probes/s, 0 = unlimited)" },
		{ "timeout_ms", "Timeout (ms)" }, { "session_timeout_ms", "Session timeout (ms)" },
		{ "retries", "Retries" }, { "ehlo_name", "EHLO name" },
		{ "all_hosts", "All hosts listed" },
	};
	const size_t nknown = sizeof(known) / sizeof(known[0]);
	struct json_object *scan = jget(v->doc, "scan"), *summary = jget(v->doc, "summary");
	struct json_object *sv;

	hb_puts(b, "<section id=\"scan\" class=\"page\">\n<h2>Scan metadata</h2>\n"
		   "<table class=\"kv\" id=\"scan-table\"><tbody>\n");
	hb_puts(b, "<tr><th>Schema</th><td>");
	hb_field(b, v->doc, "schema");
	hb_puts(b, "</td></tr>\n");
	for (size_t k = 0; k < nknown; k++) {
		sv = jget(scan, known[k][0]);
		if (!sv && k == 7) {
			kv_row(b, known[k][1], NULL);
			continue;
		}
		if (sv || json_object_object_get_ex(scan, known[k][0], NULL))
			kv_row(b, known[k][1], sv);
	}
	/* fields added by later versions, shown as they are */
	if (scan && json_object_is_type(scan, json_type_object)) {
		json_object_object_foreach(scan, key, val) {
			size_t k;
			for (k = 0; k < nknown && strcmp(key, known[k][0]) != 0; k++)
				;
			if (k == nknown)
				kv_row(b, key, val);
		}
	}
	if ((sv = jget(summary, "port_states")))
		kv_row(b, "Port states (whole sweep)", sv);
	if ((sv = jget(summary, "smtp_errors")))
		kv_row(b, "SMTP sessions with an error", sv);
	hb_puts(b, "</tbody></table>\n</section>\n");
}

/* ---- the page ----------------------------------------------------------------- */

int mh_render_html(struct json_object *doc, struct json_object *baseline, const char *path,
		   char *err, size_t errlen)
{
	struct doc_view v, base;
	struct hbuf b = { 0 };
	int rc;

	if (!doc || !json_object_is_type(doc, json_type_object))
		return mh_err(err, errlen, MH_EINVAL, "html: the document is not a JSON object");
	if (baseline && !json_object_is_type(baseline, json_type_object))
		return mh_err(err, errlen, MH_EINVAL, "html: the baseline is not a JSON object");
	rc = view_build(doc, &v);
	if (rc < 0)
		return mh_err(err, errlen, rc, "html: out of memory");
	memset(&base, 0, sizeof(base));
	if (baseline && (rc = view_build(baseline, &base)) < 0) {
		view_free(&v);
		return mh_err(err, errlen, rc, "html: out of memory");
	}

	render_head(&b, doc);
	hb_puts(&b, "<body>\n");
	render_header(&b, &v);
	hb_puts(&b, "<main>\n");
	render_summary(&b, &v, baseline ? &base : NULL);
	render_charts(&b, &v);
	if (baseline && render_trend(&b, &v, &base) < 0)
		b.failed = 1;
	render_host_table(&b, &v);
	render_findings(&b, &v);
	render_details(&b, &v);
	render_meta(&b, &v);
	hb_printf(&b, "</main>\n<footer>Generated by mailhole %s from a mailhole/1 document. "
		      "This page is self-contained: it loads nothing and sends nothing. Every "
		      "text that came from a scanned host is shown as text; control characters "
		      "and invalid bytes appear as <code>\\xNN</code>.</footer>\n",
		  MH_VERSION);
	hb_puts(&b, "<script>");
	hb_puts(&b, page_js);
	hb_puts(&b, "</script>\n</body>\n</html>\n");

	view_free(&v);
	view_free(&base);
	if (b.failed) {
		free(b.p);
		return mh_err(err, errlen, MH_ENOMEM, "html: out of memory while rendering %s",
			      path);
	}
	rc = mh_write_file_atomic(path, b.p, b.len, err, errlen);
	free(b.p);
	return rc;
}
