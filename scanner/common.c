/*
 * common.c -- logging, error buffers and small bounded helpers shared by
 * every module (include/mailhole/common.h).
 */
#include "mailhole/common.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

static atomic_int log_level = MH_LOG_WARN;

void mh_log_set_level(enum mh_log_level level)
{
	atomic_store(&log_level, (int)level);
}

__attribute__((format(printf, 2, 0))) static void vlog(enum mh_log_level level,
								const char *fmt, va_list ap)
{
	char line[1024];

	if ((int)level > atomic_load(&log_level))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* One write per line, so threads do not interleave within a line. */
	fprintf(stderr, "mailhole: %s\n", line);
}

#define MH_LOG_FN(fn, level)                                                                       \
	void fn(const char *fmt, ...)                                                              \
	{                                                                                          \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		vlog(level, fmt, ap);                                                              \
		va_end(ap);                                                                        \
	}
MH_LOG_FN(mh_log_error, MH_LOG_ERROR)
MH_LOG_FN(mh_log_warn, MH_LOG_WARN)
MH_LOG_FN(mh_log_info, MH_LOG_INFO)
MH_LOG_FN(mh_log_debug, MH_LOG_DEBUG)

int mh_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

size_t mh_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

int mh_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return MH_EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return MH_EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return MH_EINVAL;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return MH_EINVAL;
	*out = v;
	return 0;
}

void mh_sanitize_line(char *dst, size_t size, const char *src, size_t len)
{
	size_t o = 0;

	if (size == 0)
		return;
	for (size_t i = 0; i < len; i++) {
		if (o + 1 >= size) {
			if (size > 4)
				memcpy(dst + size - 4, "...", 3), o = size - 1;
			break;
		}
		unsigned char c = (unsigned char)src[i];
		dst[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[o] = '\0';
}

uint64_t mh_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mh_now_ms(void)
{
	return mh_now_ns() / 1000000ull;
}

int mh_rfc3339(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t >= 0 && gmtime_r(&tt, &tm) && strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		return 0;
	if (size > 0)
		buf[0] = '\0';
	return -1;
}

void mh_rfc3339_now(char *buf, size_t size)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	mh_rfc3339((int64_t)ts.tv_sec, buf, size);
}

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c >= 0x01 && c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t mh_utf8_clean(char *dst, size_t size, const char *src, size_t len)
{
	static const char repl[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0, i = 0;

	if (size == 0)
		return 0;
	while (i < len) {
		size_t k = utf8_seq(s + i, len - i);
		const char *piece = k ? src + i : repl;
		size_t plen = k ? k : 3;
		if (o + plen + 1 > size)
			break;
		memcpy(dst + o, piece, plen);
		o += plen;
		i += k ? k : 1;
	}
	dst[o] = '\0';
	return o;
}

int mh_read_file(const char *path, size_t max, char **out, size_t *len, char *err,
		 size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	*out = NULL;
	*len = 0;
	if (!f)
		return mh_err(err, errlen, MH_EIO, "%s: %s", path, strerror(errno));
	buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		return mh_err(err, errlen, MH_ENOMEM, "%s: out of memory", path);
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		free(buf);
		return mh_err(err, errlen, MH_EIO, "%s: %s", path, strerror(e));
	}
	fclose(f);
	if (n > max) {
		free(buf);
		return mh_err(err, errlen, MH_ELIMIT, "%s: larger than %zu bytes", path, max);
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

void mh_join_argv(char *buf, size_t size, int argc, char **argv)
{
	size_t n;

	if (!size)
		return;
	n = mh_strlcpy(buf, "mailhole", size);
	for (int i = 0; i < argc && n < size; i++) {
		int w = snprintf(buf + n, size - n, " %s", argv[i]);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

int mh_opt_next(int argc, char **argv, int *i, const char *const *valued, char *name,
		size_t namesize, const char **value, char *err, size_t errlen)
{
	const char *a = argv[*i], *eq = NULL;
	bool takes = false;

	*value = NULL;
	if (a[0] != '-' || !strcmp(a, "-")) {
		mh_strlcpy(name, a, namesize);
		return 0;
	}
	if (a[1] == '-' && (eq = strchr(a, '=')) != NULL) {
		size_t l = (size_t)(eq - a) < namesize - 1 ? (size_t)(eq - a) : namesize - 1;
		memcpy(name, a, l);
		name[l] = '\0';
	} else {
		mh_strlcpy(name, a, namesize);
	}
	for (const char *const *v = valued; v && *v && !takes; v++)
		takes = !strcmp(name, *v);
	if (!takes) {
		if (eq)
			return mh_err(err, errlen, MH_EINVAL,
				      "option '%s' (argument %d): takes no value", name, *i);
		return 1;
	}
	if (eq)
		*value = eq + 1;
	else if (*i + 1 < argc)
		*value = argv[++*i];
	else
		return mh_err(err, errlen, MH_EINVAL, "option '%s' (argument %d): needs a value",
			      a, *i);
	if (!**value)
		return mh_err(err, errlen, MH_EINVAL, "option %s (argument %d): empty value", name,
			      *i);
	return 1;
}
