/*
 * tls.h -- what a STARTTLS (or SMTPS) handshake tells about a server, as
 * plain facts for the record: protocol and cipher, and the leaf
 * certificate's names, dates, fingerprint, whether its chain verifies
 * against a trust store and whether it names the host.
 *
 * No I/O: the engine does the handshake (with SSL_VERIFY_NONE, so that a
 * bad certificate never aborts the record) and hands the result here. A
 * verification failure is a fact (`verified` false, `verify_error` says
 * why), never an error of these functions.
 *
 * Host name matching (RFC 6125 / RFC 9525): subjectAltName dNSName entries
 * only, case-insensitive, a wildcard only as the whole left-most label
 * ("*.example.com" matches "mx.example.com", not "example.com" nor
 * "a.mx.example.com" nor via "m*.example.com"); an address literal
 * ("192.0.2.1", "2001:db8::1", "[192.0.2.1]", "[IPv6:2001:db8::1]") is
 * matched against iPAddress SANs only. The subject CN is NEVER used, even
 * when there is no SAN (as browsers and RFC 9525 do; the cert-name-mismatch
 * rule says "no SAN matches").
 *
 * Every string is NUL-terminated, one line, valid UTF-8 (names keep their
 * UTF-8; control characters are escaped by OpenSSL's RFC 2253 printer, SAN
 * bytes outside printable ASCII become '?'), truncated when too long.
 */
#ifndef MAILHOLE_TLS_H
#define MAILHOLE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#define MH_TLS_SANS_MAX 16 /* SAN entries kept; more are counted in nsans_total */
#define MH_TLS_NAME_MAX 256

struct mh_tls_facts {
	/* From the session (mh_tls_facts_from_ssl). */
	char version[16];  /* "TLSv1.3", "TLSv1.2", ... as OpenSSL names it; "" = unknown */
	int proto;         /* SSL_version(): TLS1_2_VERSION (0x0303) ...; 0 = unknown.
			      weak-tls: proto < TLS1_2_VERSION */
	char cipher[64];   /* "TLS_AES_256_GCM_SHA384"; "" = unknown */

	/* From the leaf certificate (mh_tls_facts_from_cert). */
	bool have_cert;                               /* the fields below are filled */
	char subject[MH_TLS_NAME_MAX];                /* RFC 2253 ("CN=mx.example.com,O=Ex") */
	char issuer[MH_TLS_NAME_MAX];                 /* RFC 2253 */
	unsigned nsans;                               /* entries in sans[] */
	unsigned nsans_total;                         /* DNS + IP SANs in the cert (>= nsans) */
	char sans[MH_TLS_SANS_MAX][MH_TLS_NAME_MAX];  /* dNSName as is ("*.example.com"),
							 iPAddress as text ("192.0.2.1") */
	char not_before[32];                          /* RFC 3339 UTC "2026-01-01T00:00:00Z" */
	char not_after[32];                           /* RFC 3339 UTC */
	int64_t days_left;                            /* floor((not_after - now) / 86400 s):
							 negative once expired */
	bool expired;                                 /* now > not_after (cert-expired) */
	bool not_yet_valid;                           /* now < not_before */
	bool self_signed;                             /* issued by itself, own key verifies it */
	bool verify_checked;                          /* a store was given, verification ran */
	bool verified;                                /* chain verified against the store at
							 `now` (names not part of it) */
	int verify_code;                              /* X509_V_OK or X509_V_ERR_* */
	char verify_error[128];                       /* X509_verify_cert_error_string(): "ok"
							 when verified; "not checked" if no
							 store */
	bool name_match;                              /* a SAN matches the host name (above) */
	char sha256[96];                              /* leaf DER SHA-256, "AB:CD:..." upper-
							 case, as `openssl x509 -fingerprint` */
};

/*
 * Fills the certificate fields of out from leaf (borrowed). chain
 * (borrowed, may be NULL) holds the untrusted certificates the server sent
 * (SSL_get_peer_cert_chain(): it may hold the leaf too). store (borrowed)
 * is the trust anchors; NULL = no verification (verify_checked false).
 * hostname (borrowed, may be NULL or "": name_match false) is the name the
 * certificate should carry. now is the time every date is judged at.
 * Does not touch version/proto/cipher: zero out first, then call this and
 * mh_tls_facts_from_ssl() in any order.
 * Returns 0, MH_EINVAL (leaf NULL, unreadable dates) or MH_ENOMEM, with err.
 */
int mh_tls_facts_from_cert(X509 *leaf, STACK_OF(X509) *chain, X509_STORE *store,
			   const char *hostname, time_t now, struct mh_tls_facts *out, char *err,
			   size_t errlen);

/* Fills version, proto and cipher from an established session (borrowed). */
void mh_tls_facts_from_ssl(const SSL *ssl, struct mh_tls_facts *out);

/*
 * Whether host is an address literal, and if so its bare text in buf
 * ("[IPv6:2001:db8::1]" -> "2001:db8::1"). Exposed for the tests and the
 * session; returns true / false.
 */
bool mh_tls_host_is_ip(const char *host, char *buf, size_t size);

#endif
