/*
 * common.h -- what every module of mailhole shares: error codes, the error
 * buffer convention, logging, and a few bounded string helpers.
 *
 * Conventions (see ../shared/STYLE.md):
 *  - functions return 0 (or a count) on success and a negative MH_E* code on
 *    failure; the human detail goes into a caller-supplied error buffer
 *    (`char *err, size_t errlen`), one line, no trailing newline;
 *  - only main() exits.
 */
#ifndef MAILHOLE_COMMON_H
#define MAILHOLE_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define MH_VERSION "0.1.0"

/* Error codes (negative on return). */
enum {
	MH_OK = 0,
	MH_EINVAL = -1,   /* bad input: a target, a file, an option */
	MH_ENOMEM = -2,   /* allocation failed */
	MH_EIO = -3,      /* a system call or file failed */
	MH_ELIMIT = -4,   /* a size limit was reached */
	MH_EPROTO = -5,   /* a peer broke the protocol */
	MH_EPUBLIC = -6,  /* public address without --allow-public */
};

/* Exit codes of the program (CONTRACT.md). */
enum {
	MH_EXIT_OK = 0,
	MH_EXIT_FINDINGS = 1,
	MH_EXIT_USAGE = 2,
	MH_EXIT_RUNTIME = 3,
};

/* Size of the error buffers passed around (one line). */
#define MH_ERRLEN 512

/* Logging to stderr. Levels below the current one are dropped. */
enum mh_log_level { MH_LOG_ERROR, MH_LOG_WARN, MH_LOG_INFO, MH_LOG_DEBUG };
void mh_log_set_level(enum mh_log_level level);
void mh_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mh_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mh_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mh_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Formats into err (errlen bytes, always NUL-terminated when errlen > 0).
 * Returns `code` so that callers can write `return mh_err(err, n, MH_EINVAL, ...)`.
 */
int mh_err(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* strlcpy semantics: copies at most size-1 bytes, NUL-terminates, returns strlen(src). */
size_t mh_strlcpy(char *dst, const char *src, size_t size);

/*
 * Parses a whole decimal unsigned number in [min, max]. No sign, no spaces,
 * no trailing junk. Returns 0 or MH_EINVAL.
 */
int mh_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Copies `len` bytes of untrusted text into dst (size bytes) so that the
 * result is printable for a one-line message: control characters and
 * non-ASCII bytes become '?'; truncated with "..." when too long.
 */
void mh_sanitize_line(char *dst, size_t size, const char *src, size_t len);

/*
 * Copies len bytes of untrusted text into dst (size bytes, NUL-terminated) as
 * valid UTF-8: each invalid or overlong sequence becomes U+FFFD, NUL becomes
 * U+FFFD; truncated at a character boundary. Returns the bytes written.
 */
size_t mh_utf8_clean(char *dst, size_t size, const char *src, size_t len);

/*
 * Reads a whole file of at most max bytes into a malloc'd, NUL-terminated
 * buffer (*out, the caller frees; *len excludes the NUL). Errors name the
 * path: "PATH: No such file or directory", "PATH: larger than N bytes"
 * (MH_ELIMIT), MH_EIO, MH_ENOMEM.
 */
int mh_read_file(const char *path, size_t max, char **out, size_t *len, char *err,
		 size_t errlen);

/* Monotonic clock in milliseconds and nanoseconds. */
uint64_t mh_now_ms(void);
uint64_t mh_now_ns(void);

/*
 * The command line as typed, for a document's scan.command_line:
 * "mailhole " + argv[0..argc) joined by spaces (argv[0] is the command word),
 * cut to size. Credentials never reach argv.
 */
void mh_join_argv(char *buf, size_t size, int argc, char **argv);

/*
 * One argument of a command's line (argv[0] is the command word). Splits
 * argv[*i] into its name and value: "--policy=FILE", or "--policy FILE" /
 * "-o FILE" when the name is one of `valued` (a NULL-terminated list; *i
 * then moves past the value). Returns 1 for an option (name copied into
 * name, *value the value or NULL when it takes none), 0 for an operand (an
 * argument that does not start with '-', or "-"), or MH_EINVAL with err:
 *   "option '--hosts' (argument 3): needs a value"
 *   "option --hosts (argument 3): empty value"
 *   "option '--quiet' (argument 3): takes no value"
 */
int mh_opt_next(int argc, char **argv, int *i, const char *const *valued, char *name,
		size_t namesize, const char **value, char *err, size_t errlen);

/*
 * A unix time as RFC 3339 UTC ("2026-12-08T04:27:59Z") into buf (>= 21
 * bytes). 0, or -1 with buf "" when t is negative or cannot be shown.
 */
int mh_rfc3339(int64_t t, char *buf, size_t size);

/* Wall clock as RFC 3339 UTC ("2026-11-24T00:14:47Z") into buf (>= 21 bytes). */
void mh_rfc3339_now(char *buf, size_t size);

#endif
