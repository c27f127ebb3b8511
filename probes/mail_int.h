/*
 * mail_int.h -- what probes/mail.c and probes/mail_text.c share (not part
 * of the program's map: only the message reader and its tests use it).
 * Every function is bounded by the lengths it is given and NUL-terminates
 * its output (size >= 1).
 */
#ifndef MAILHOLE_MAIL_INT_H
#define MAILHOLE_MAIL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Drops the line ends of a folded value and trims it. Returns the length written. */
size_t mh_mail_unfold(const char *v, size_t n, char *dst, size_t size);
/* Unfolds and replaces comments "(...)" (nested, quoted-pairs) outside quoted strings by a space. */
size_t mh_mail_uncomment(const char *v, size_t n, char *dst, size_t size);
/*
 * One-line clean text: RFC 2047 encoded-words decoded when decode is set
 * (UTF-8, US-ASCII and ISO-8859-1 to UTF-8; other charsets left as
 * written), control characters dropped (tabs become spaces), runs of
 * whitespace collapsed, trimmed, valid UTF-8 (invalid bytes U+FFFD),
 * truncated at a character boundary.
 */
void mh_mail_clean(const char *src, size_t n, char *dst, size_t size, bool decode);
/* The same for body text in a charset (ISO-8859-1 converted; others as UTF-8). */
void mh_mail_clean_charset(const char *src, size_t n, const char *charset, char *dst, size_t size);
/*
 * The first address of an address-list value (display names, comments,
 * angle brackets, group syntax, source routes removed) into dst. true when
 * there was one (an empty "<>" counts: dst is then "").
 */
bool mh_mail_first_addr(const char *v, size_t n, char *dst, size_t size);
/* An RFC 5322 date (obsolete forms and zones tolerated) as time_t; 0 when unparseable. */
time_t mh_mail_parse_date(const char *v, size_t n);
/* base64 / quoted-printable into dst (>= n bytes); returns the length. Junk is skipped. */
size_t mh_mail_base64_decode(const char *src, size_t n, char *dst);
size_t mh_mail_qp_decode(const char *src, size_t n, char *dst);

#endif
