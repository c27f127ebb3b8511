/*
 * render.h -- renderers of a whole document, and the document operations
 * behind `mailhole report` and `mailhole diff`.
 *
 * They all read the JSON document (schema "mailhole/1", docs/schema.md) as
 * json-c objects, so a document from any run, any host or any shard renders
 * the same way: every writer reads the same model. Every string in a
 * document is untrusted (it came from a network, a mailbox or a file) and
 * is escaped for its format.
 */
#ifndef MAILHOLE_RENDER_H
#define MAILHOLE_RENDER_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Reads a document and checks its shape (schema "mailhole/1", hosts an
 * array of objects with "addr"). Takes no ownership of path; *out is the
 * caller's (json_object_put). Errors name the file and the JSON path.
 */
int mh_doc_load(const char *path, struct json_object **out, char *err, size_t errlen);

/*
 * Merges documents (shards, local runs from many hosts, probe runs) into a
 * new fleet document keyed by address (hosts with the same "addr" are one
 * host; names are united; for each port, probe and finding the evidence of
 * the document whose scan.finished is newest wins). Summary recomputed.
 * The inputs are borrowed.
 */
int mh_doc_merge(struct json_object *const *docs, size_t n, struct json_object **out,
		 char *err, size_t errlen);

/* Recomputes "summary" (hosts, open_ports, findings by severity) from "hosts". */
void mh_doc_summarize(struct json_object *doc);

/*
 * Compares findings (keyed by host addr + rule id): *out = { "new": [...],
 * "fixed": [...], "unchanged": [...] }, each item { "addr", "id",
 * "severity", "title" }. *failing = number of new findings at or above
 * fail_on (enum mh_severity; MH_SEV_COUNT = none).
 */
int mh_doc_diff(struct json_object *old_doc, struct json_object *new_doc, int fail_on,
		struct json_object **out, unsigned *failing, char *err, size_t errlen);

/*
 * Renderers. Each writes path atomically (mh_write_file_atomic). baseline
 * (may be NULL) is an older document for the trend section of the HTML.
 */
int mh_render_html(struct json_object *doc, struct json_object *baseline, const char *path,
		   char *err, size_t errlen);
/*
 * The HTML report's escaper, for text and quoted attribute values: & < > " '
 * become entities; LF and TAB pass; other control characters, invalid UTF-8
 * bytes and invisible or bidirectional-override code points become visible
 * text ("\x1b", "\xff", "\u202e"). Writes at most size bytes into dst (NUL-
 * terminated when size > 0, never cutting an entity or a character) and
 * returns the length of the whole escaped text, as snprintf does: a result
 * >= size means truncated. dst may be NULL when size is 0.
 */
size_t mh_html_escape(char *dst, size_t size, const char *src, size_t len);
int mh_render_junit(struct json_object *doc, const char *path, char *err, size_t errlen);
int mh_render_sarif(struct json_object *doc, const char *path, char *err, size_t errlen);
/* A summary for terminals; colour only when `color`. */
int mh_render_text(struct json_object *doc, FILE *f, bool color);

/*
 * Reading a document. A loaded document has the shape mh_doc_load checks
 * and nothing more: any other field may be missing or of another type, so
 * every reader goes through these (they never fail on a wrong type).
 */
/* The string at obj.key (borrowed), or NULL when absent or not a string. */
const char *mh_doc_string(struct json_object *obj, const char *key, size_t *len);
/* The array at obj.key (borrowed), or NULL when absent or not an array. */
struct json_object *mh_doc_array(struct json_object *obj, const char *key);
/* A finding's "severity" as enum mh_severity; MH_SEV_COUNT when unknown. */
int mh_doc_severity(struct json_object *finding);

#endif
