/*
 * report.h -- turning host records into documents.
 *
 * A writer is a const struct of callbacks (zmap's output-module shape): it
 * opens its output, receives every finished host (borrowed, in the writer
 * thread only, so no locks), and writes what remains at close. Writers are
 * registered in one place, the table behind mh_writer_find() in report/json.c.
 *
 * Every JSON byte goes through json-c; every string that came from a
 * network, a mailbox or a file is made valid UTF-8 first (mh_json_string).
 */
#ifndef MAILHOLE_REPORT_H
#define MAILHOLE_REPORT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "mailhole/engine.h"
#include "mailhole/host.h"

/* What the document's "scan" and "summary" objects say about the run. */
struct mh_run_meta {
	const char *command;      /* "scan", "audit", ... */
	const char *command_line; /* argv joined by spaces (credentials never reach argv) */
	char started[32];         /* RFC 3339 */
	char finished[32];
	double duration_s;
	bool complete;            /* false when interrupted */
	const struct mh_scan_opts *scan;   /* NULL when no sweep ran */
	const struct mh_scan_stats *stats; /* NULL when no sweep ran */
};

struct mh_writer_ops {
	const char *name; /* "json", "jsonl" */
	/* Opens path ("-" = standard output where it makes sense); *ctx is the writer's. */
	int (*open)(void **ctx, const char *path, char *err, size_t errlen);
	/* One finished host, borrowed for the call. */
	int (*host)(void *ctx, const struct mh_host *h, char *err, size_t errlen);
	/* Writes what remains (the whole document for "json") and frees ctx. */
	int (*close)(void *ctx, const struct mh_run_meta *meta, char *err, size_t errlen);
};

extern const struct mh_writer_ops mh_writer_json;
extern const struct mh_writer_ops mh_writer_jsonl;
/* Looks a writer up by name; NULL when unknown. */
const struct mh_writer_ops *mh_writer_find(const char *name);

/* A json string from untrusted bytes (made valid UTF-8). Never NULL unless out of memory. */
struct json_object *mh_json_string(const char *s, size_t len);
/* The host record of CONTRACT.md ("addr", "names", "role", "exposure", "ports", ...). */
struct json_object *mh_host_to_json(const struct mh_host *h);

/*
 * Whether an output file can be written where it is asked for ("-" always
 * can): its folder exists and is writable. Checked before any work, so a
 * bad -o is bad usage (MH_EINVAL with err: "output 'x/y.json': folder not
 * writable: No such file or directory"), not a failure at the end.
 */
int mh_output_check(const char *path, char *err, size_t errlen);

/*
 * Writes data to path atomically: a temporary file in the same folder,
 * fsync, rename. A reader sees the old file or the new one, never half.
 */
int mh_write_file_atomic(const char *path, const char *data, size_t len, char *err,
			 size_t errlen);

#endif
