/*
 * tls_facts.c -- the facts of a TLS handshake for the record
 * (include/mailhole/tls.h): protocol, cipher, and the leaf certificate's
 * names, dates, fingerprint, chain verification and host name match.
 *
 * Nothing here does I/O or aborts a record: a certificate that does not
 * verify is described (verify_code / verify_error), a name that does not
 * match sets name_match false. Only a missing leaf or an allocation
 * failure is an error. Name matching is OpenSSL's X509_check_host() with
 * the subject CN switched off and partial wildcards refused, and
 * X509_check_ip_asc() for address literals (see tls.h for the policy).
 */
#include "mailhole/tls.h"

#include "mailhole/common.h"

#include <arpa/inet.h>
#include <strings.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

/* One X509_NAME as RFC 2253 text, UTF-8 kept (controls escaped by OpenSSL). */
static int name_text(const X509_NAME *name, char *dst, size_t size)
{
	BIO *bio;
	char *data = NULL;
	long n;
	unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;

	dst[0] = '\0';
	if (name == NULL)
		return 0;
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		return MH_ENOMEM;
	if (X509_NAME_print_ex(bio, name, 0, flags) < 0) {
		BIO_free(bio);
		return MH_ENOMEM;
	}
	n = BIO_get_mem_data(bio, &data);
	if (n > 0 && data != NULL)
		mh_utf8_clean(dst, size, data, (size_t)n);
	BIO_free(bio);
	return 0;
}

/* The DNS and IP SANs, in certificate order. */
static void collect_sans(X509 *leaf, struct mh_tls_facts *out)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	int n = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;

	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char text[INET6_ADDRSTRLEN];
		const unsigned char *p;
		int len;

		if (g->type != GEN_DNS && g->type != GEN_IPADD)
			continue;
		out->nsans_total++;
		if (out->nsans >= MH_TLS_SANS_MAX)
			continue;
		p = ASN1_STRING_get0_data(g->d.ia5);
		len = ASN1_STRING_length(g->d.ia5);
		if (g->type == GEN_DNS) {
			mh_sanitize_line(out->sans[out->nsans], sizeof(out->sans[0]),
					 (const char *)p, (size_t)len);
		} else {
			int af = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;

			if (af == 0 || inet_ntop(af, p, text, sizeof(text)) == NULL)
				mh_strlcpy(text, "?", sizeof(text));
			mh_strlcpy(out->sans[out->nsans], text, sizeof(out->sans[0]));
		}
		out->nsans++;
	}
	GENERAL_NAMES_free(gens);
}

/* An ASN1_TIME as RFC 3339 UTC and as seconds since the epoch. */
static int time_text(const ASN1_TIME *t, char *dst, size_t size, int64_t *epoch)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return MH_EINVAL;
	if (strftime(dst, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return MH_EINVAL;
	*epoch = (int64_t)timegm(&tm);
	return 0;
}

/* floor(a / b) for b > 0: an expired certificate has negative days left. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if (a % b != 0 && a < 0)
		q--;
	return q;
}

bool mh_tls_host_is_ip(const char *host, char *buf, size_t size)
{
	unsigned char bin[16];
	size_t len;

	if (host == NULL || size == 0)
		return false;
	len = strlen(host);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
		if (len >= 5 && strncasecmp(host, "IPv6:", 5) == 0) {
			host += 5;
			len -= 5;
		}
	}
	if (len == 0 || len >= size)
		return false;
	memcpy(buf, host, len);
	buf[len] = '\0';
	return inet_pton(AF_INET, buf, bin) == 1 || inet_pton(AF_INET6, buf, bin) == 1;
}

static bool host_matches(X509 *leaf, const char *hostname)
{
	char ip[INET6_ADDRSTRLEN + 8];
	char name[256];
	size_t len;
	unsigned flags = X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
			 X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;

	if (hostname == NULL || hostname[0] == '\0')
		return false;
	if (mh_tls_host_is_ip(hostname, ip, sizeof(ip)))
		return X509_check_ip_asc(leaf, ip, 0) == 1;
	/* "mx.example.com." is the same name as "mx.example.com". */
	len = mh_strlcpy(name, hostname, sizeof(name));
	if (len >= sizeof(name))
		return false;
	if (len > 1 && name[len - 1] == '.')
		name[--len] = '\0';
	return X509_check_host(leaf, name, len, flags, NULL) == 1;
}

static int verify_chain(X509 *leaf, STACK_OF(X509) *chain, X509_STORE *store, time_t now,
			struct mh_tls_facts *out)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	if (ctx == NULL)
		return MH_ENOMEM;
	if (X509_STORE_CTX_init(ctx, store, leaf, chain) != 1) {
		X509_STORE_CTX_free(ctx);
		return MH_ENOMEM;
	}
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	X509_STORE_CTX_set_time(ctx, 0, now);
	ok = X509_verify_cert(ctx);
	out->verify_checked = true;
	out->verified = ok == 1;
	out->verify_code = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	if (out->verify_code == X509_V_OK && ok != 1)
		out->verify_code = X509_V_ERR_UNSPECIFIED;
	mh_strlcpy(out->verify_error, X509_verify_cert_error_string(out->verify_code),
		   sizeof(out->verify_error));
	X509_STORE_CTX_free(ctx);
	return 0;
}

static void fingerprint(X509 *leaf, char *dst, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t o = 0;

	dst[0] = '\0';
	if (X509_digest(leaf, EVP_sha256(), md, &n) != 1)
		return;
	for (unsigned int i = 0; i < n && o + 3 < size; i++) {
		if (i > 0)
			dst[o++] = ':';
		dst[o++] = hex[md[i] >> 4];
		dst[o++] = hex[md[i] & 0xf];
	}
	dst[o] = '\0';
}

int mh_tls_facts_from_cert(X509 *leaf, STACK_OF(X509) *chain, X509_STORE *store,
			   const char *hostname, time_t now, struct mh_tls_facts *out, char *err,
			   size_t errlen)
{
	int64_t nb, na;
	int rc;

	if (leaf == NULL || out == NULL)
		return mh_err(err, errlen, MH_EINVAL, "tls: no certificate");
	out->have_cert = false;
	out->nsans = out->nsans_total = 0;
	rc = name_text(X509_get_subject_name(leaf), out->subject, sizeof(out->subject));
	if (rc == 0)
		rc = name_text(X509_get_issuer_name(leaf), out->issuer, sizeof(out->issuer));
	if (rc < 0)
		return mh_err(err, errlen, rc, "tls: out of memory printing names");
	collect_sans(leaf, out);

	if (time_text(X509_get0_notBefore(leaf), out->not_before, sizeof(out->not_before),
		      &nb) < 0 ||
	    time_text(X509_get0_notAfter(leaf), out->not_after, sizeof(out->not_after), &na) < 0)
		return mh_err(err, errlen, MH_EINVAL, "tls: unreadable validity dates");
	out->days_left = floor_div(na - (int64_t)now, 86400);
	out->expired = (int64_t)now > na;
	out->not_yet_valid = (int64_t)now < nb;

	out->self_signed = X509_self_signed(leaf, 1) == 1;
	out->verified = false;
	out->verify_checked = false;
	out->verify_code = X509_V_OK;
	mh_strlcpy(out->verify_error, "not checked", sizeof(out->verify_error));
	if (store != NULL) {
		rc = verify_chain(leaf, chain, store, now, out);
		if (rc < 0)
			return mh_err(err, errlen, rc, "tls: out of memory verifying the chain");
	}
	out->name_match = host_matches(leaf, hostname);
	fingerprint(leaf, out->sha256, sizeof(out->sha256));
	out->have_cert = true;
	return 0;
}

void mh_tls_facts_from_ssl(const SSL *ssl, struct mh_tls_facts *out)
{
	const SSL_CIPHER *c;
	const char *v;

	out->version[0] = out->cipher[0] = '\0';
	out->proto = 0;
	if (ssl == NULL)
		return;
	v = SSL_get_version(ssl);
	if (v != NULL)
		mh_sanitize_line(out->version, sizeof(out->version), v, strlen(v));
	out->proto = SSL_version(ssl);
	c = SSL_get_current_cipher(ssl);
	if (c != NULL) {
		const char *name = SSL_CIPHER_get_name(c);

		if (name != NULL)
			mh_sanitize_line(out->cipher, sizeof(out->cipher), name, strlen(name));
	}
}
