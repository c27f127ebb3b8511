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
 * callback returns 0 to go on, < 0 to stop (that code is returned).
 */
typedef int (*mh_collect_cb)(void *arg, const char *key, uint64_t uid, const char *msg,
			     size_t len);
/*
 * Every message newer than after_uid (IMAP; 0 = all) or every message of
 * the Maildir, oldest first. A message that cannot be fetched is skipped
 * with a warning in *nskipped (may be NULL), never the end of the run.
 * Returns the number of messages handed to cb, or a negative code (err set).
 */
int mh_collect_each(struct mh_collector *c, uint64_t after_uid, mh_collect_cb cb, void *arg,
		    unsigned *nskipped, char *err, size_t errlen);

/*
 * Removes a processed message (--expunge): IMAP sets \Deleted and
 * expunges at close; a Maildir file is unlinked. 0 or a negative code.
 */
int mh_collect_delete(struct mh_collector *c, const char *key, char *err, size_t errlen);

/*
 * Reads a password: the first line of file (no trailing newline kept), or
 * the environment variable env. Exactly one of them is non-NULL. The
 * result is malloc'd (*out). 0, or MH_EINVAL / MH_EIO with err naming the
 * file or variable.
 */
int mh_collect_password(const char *file, const char *env, char **out, char *err, size_t errlen);

#endif
