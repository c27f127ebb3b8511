/*
 * collect.h -- the collector mailbox: where probes and the bounces about
 * them come back (CONTRACT.md, policy "collector"). Two kinds of mailbox,
 * one interface (probes/collect.c):
 *   - imap://HOST[:PORT]/MAILBOX and imaps://... through libcurl: UID
 *     SEARCH for messages that carry a tag (header X-Mailhole-Tag, or "mh"
 *     in To / the body for bounces: the search is wide, the parser decides),
 *     UID FETCH of each, newer than the last UID seen (kept by the caller in
 *     its state file, with UIDVALIDITY);
 *   - maildir:/path/to/Maildir: the files of new/ and cur/, each message's
 *     key its file name up to the first ':'.
 * Credentials: from the policy's password_file or password_env, never argv.
 *
 * IMAP (implementation notes, probes/collect.c):
 *   - one libcurl handle per collector, so every request reuses the one
 *     logged-in connection; the password is given with CURLOPT_PASSWORD,
 *     never in a URL, and an URL that carries credentials is refused;
 *   - open: EXAMINE of the mailbox, for UIDVALIDITY; every later request
 *     names ;UIDVALIDITY=n, so a mailbox renumbered under us is an error
 *     (MH_EIO, "UIDVALIDITY changed"), never messages taken for others;
 *   - the list is "UID FETCH after+1:* (UID RFC822.SIZE)" rather than
 *     "UID SEARCH" (libcurl 7.88 clips a long SEARCH line to 40 bytes
 *     without an error, see collect_imap.c); no criterion: the parser
 *     decides what is ours. A message over MH_MAIL_MAX is skipped before
 *     it is downloaded;
 *   - imap:// is cleartext (a lab, or a collector on the same host)
 *     unless `starttls`; imaps:// and STARTTLS verify the certificate
 *     unless `insecure`.
 * Maildir: new/ and cur/ (never tmp/), regular files only (a symlink is
 * skipped), oldest first by mtime then name; a file over MH_MAIL_MAX is
 * skipped and counted.
 */
#ifndef MAILHOLE_COLLECT_H
#define MAILHOLE_COLLECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mh_collector;

struct mh_collect_opts {
	const char *url;        /* "imap://198.18.0.2/INBOX", "imaps://...", "maildir:/x/Maildir" */
	const char *user;       /* IMAP login (NULL for maildir) */
	const char *password;   /* IMAP password (NULL for maildir) */
	bool insecure;          /* imaps: do not verify the server's certificate (labs only) */
	long timeout_ms;        /* per IMAP operation; 0 = 30000 */
	bool starttls;          /* imap://: require STARTTLS before LOGIN (verified unless
				   insecure); without it imap:// is cleartext */
};

/*
 * Opens the mailbox (IMAP: connects, logs in, selects, reads UIDVALIDITY).
 * 0, or MH_EINVAL (bad url: err names it), MH_EIO (cannot connect, log in,
 * or read the Maildir: err says which and why).
 */
int mh_collect_open(const struct mh_collect_opts *o, struct mh_collector **out, char *err,
		    size_t errlen);
void mh_collect_close(struct mh_collector **c);
/* IMAP UIDVALIDITY (0 for a Maildir). */
uint64_t mh_collect_uidvalidity(const struct mh_collector *c);

/*
 * Called once for each message: key is the IMAP UID in decimal or the
 * Maildir file's unique name; uid is the IMAP UID (0 for a Maildir). The
 * callback borrows msg (msg[len] is a NUL, for convenience; the message
 * may hold NULs too) for the call only. It returns 0 to go on, < 0 to stop
 * (that code is returned, err says where it stopped).
 */
typedef int (*mh_collect_cb)(void *arg, const char *key, uint64_t uid, const char *msg,
			     size_t len);
/*
 * Every message newer than after_uid (IMAP; 0 = all) or every message of
 * the Maildir, oldest first. A message that cannot be fetched is skipped
 * with a warning and counted in *nskipped (may be NULL; added to, not
 * reset), never the end of the run.
 * Returns the number of messages handed to cb, or a negative code (err set).
 */
int mh_collect_each(struct mh_collector *c, uint64_t after_uid, mh_collect_cb cb, void *arg,
		    unsigned *nskipped, char *err, size_t errlen);

/*
 * Removes a processed message (--expunge): IMAP sets \Deleted and
 * expunges at close; a Maildir file is unlinked. 0 or a negative code.
 * May be called from inside the mh_collect_each callback.
 */
int mh_collect_delete(struct mh_collector *c, const char *key, char *err, size_t errlen);

/*
 * IMAP: expunges now the messages mh_collect_delete marked (UID EXPUNGE
 * of exactly those UIDs where the server has UIDPLUS, else EXPUNGE), so
 * that the caller sees an error; mh_collect_close does the same and can
 * only log a failure. 0 (also for a Maildir, or nothing marked) or MH_EIO.
 */
int mh_collect_expunge(struct mh_collector *c, char *err, size_t errlen);

/*
 * Reads a password: the first line of file (no trailing newline kept), or
 * the environment variable env. Exactly one of them is non-NULL. The
 * result is malloc'd (*out). 0, or MH_EINVAL / MH_EIO with err naming the
 * file or variable.
 */
int mh_collect_password(const char *file, const char *env, char **out, char *err, size_t errlen);
/*
 * (The file must be a regular file that others cannot read: mode o+r is
 * refused, as ssh refuses such a key; the first line at most 1023 bytes,
 * not empty, no NUL. An empty variable is refused too.)
 */

/*
 * Internals of the IMAP side, exposed for the unit tests and the fuzz
 * target (tests/fuzz/fuzz_imap.c). Both read buf[0..len) only.
 */
struct mh_imap_msg {
	uint64_t uid;  /* 1..2^32-1 */
	uint64_t size; /* RFC822.SIZE; UINT64_MAX when the server did not say */
};
/* "* OK [UIDVALIDITY n]" among EXAMINE's untagged lines: 0 or MH_EPROTO. */
int mh_imap_parse_uidvalidity(const char *buf, size_t len, uint64_t *out);
/*
 * The untagged lines of "UID FETCH a:* (UID RFC822.SIZE)": the messages
 * with uid > after_uid, sorted by UID, each once (*out malloc'd, NULL when
 * none). Other untagged lines (EXISTS, EXPUNGE, a FETCH without UID) are
 * ignored; a broken FETCH line is MH_EPROTO naming its line number.
 */
int mh_imap_parse_fetch_list(const char *buf, size_t len, uint64_t after_uid,
			     struct mh_imap_msg **out, size_t *nout, char *err, size_t errlen);

#endif
