/*
 * test_tls_facts.c -- certificate and session facts (scanner/tls_facts.c).
 *
 * Every certificate is made here, at test time, with the OpenSSL API (EC
 * P-256 keys, validity relative to a fixed "now"), so no fixture expires
 * and every field has a known right answer: self-signed, CA-signed and
 * verified against a store holding that CA, expired, expiring in 10 days,
 * name mismatch, wildcard match and mismatch, IP SAN, no SAN at all (the
 * CN is never used). The session facts come from a real TLS handshake
 * between two SSL objects over a memory BIO pair: no network.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "mailhole/common.h"
#include "mailhole/tls.h"

/* 2026-01-01T00:00:00Z */
#define NOW ((time_t)1767225600)
#define DAY 86400L

struct cert {
	X509 *x;
	EVP_PKEY *key;
};

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/*
 * A certificate for cn (with sans as "DNS:a,IP:b" or NULL), valid from
 * NOW + from_s to NOW + to_s, signed by ca (NULL: by itself).
 */
static struct cert make_cert(const char *cn, const char *sans, long from_s, long to_s,
			     const struct cert *ca, bool is_ca)
{
	struct cert c;
	X509_NAME *name;
	time_t now = NOW;
	static long serial = 1;

	c.key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(c.key);
	c.x = X509_new();
	assert_non_null(c.x);
	assert_int_equal(X509_set_version(c.x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(c.x), serial++);
	assert_non_null(X509_time_adj_ex(X509_getm_notBefore(c.x), 0, from_s, &now));
	assert_non_null(X509_time_adj_ex(X509_getm_notAfter(c.x), 0, to_s, &now));
	assert_int_equal(X509_set_pubkey(c.x, c.key), 1);
	name = X509_get_subject_name(c.x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"Mailhole Test",
				   -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
				   0);
	assert_int_equal(X509_set_issuer_name(c.x, ca != NULL ? X509_get_subject_name(ca->x)
							       : name),
			 1);
	add_ext(c.x, ca != NULL ? ca->x : c.x, NID_subject_key_identifier, "hash");
	if (ca != NULL)
		add_ext(c.x, ca->x, NID_authority_key_identifier, "keyid");
	if (is_ca) {
		add_ext(c.x, c.x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(c.x, c.x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(c.x, c.x, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(c.x, c.x, NID_ext_key_usage, "serverAuth");
	}
	if (sans != NULL)
		add_ext(c.x, c.x, NID_subject_alt_name, sans);
	assert_true(X509_sign(c.x, ca != NULL ? ca->key : c.key, EVP_sha256()) > 0);
	return c;
}

static void free_cert(struct cert *c)
{
	X509_free(c->x);
	EVP_PKEY_free(c->key);
}

static struct cert g_ca;
static X509_STORE *g_store;

static int setup(void **state)
{
	(void)state;
	g_ca = make_cert("Mailhole Test CA", NULL, -10 * DAY, 3650 * DAY, NULL, true);
	g_store = X509_STORE_new();
	assert_non_null(g_store);
	assert_int_equal(X509_STORE_add_cert(g_store, g_ca.x), 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	X509_STORE_free(g_store);
	free_cert(&g_ca);
	return 0;
}

static void facts(X509 *x, X509_STORE *store, const char *host, struct mh_tls_facts *f)
{
	char err[MH_ERRLEN] = "";

	memset(f, 0, sizeof(*f));
	assert_int_equal(mh_tls_facts_from_cert(x, NULL, store, host, NOW, f, err, sizeof(err)),
			 0);
	assert_true(f->have_cert);
}

static void check_fingerprint(X509 *x, const char *got)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char want[96];
	size_t o = 0;

	assert_int_equal(X509_digest(x, EVP_sha256(), md, &n), 1);
	assert_int_equal(n, 32);
	for (unsigned int i = 0; i < n; i++)
		o += (size_t)snprintf(want + o, sizeof(want) - o, "%s%02X", i ? ":" : "", md[i]);
	assert_int_equal(strlen(got), 95);
	assert_string_equal(got, want);
}

static void test_self_signed(void **state)
{
	struct mh_tls_facts f;
	struct cert c = make_cert("mx.example.com", "DNS:mx.example.com", -DAY, 365 * DAY, NULL,
				  false);

	(void)state;
	facts(c.x, g_store, "mx.example.com", &f);
	assert_string_equal(f.subject, "CN=mx.example.com,O=Mailhole Test");
	assert_string_equal(f.issuer, "CN=mx.example.com,O=Mailhole Test");
	assert_int_equal(f.nsans, 1);
	assert_int_equal(f.nsans_total, 1);
	assert_string_equal(f.sans[0], "mx.example.com");
	assert_string_equal(f.not_before, "2025-12-31T00:00:00Z");
	assert_string_equal(f.not_after, "2027-01-01T00:00:00Z");
	assert_int_equal(f.days_left, 365);
	assert_false(f.expired);
	assert_false(f.not_yet_valid);
	assert_true(f.self_signed);
	assert_true(f.verify_checked);
	assert_false(f.verified);
	assert_int_equal(f.verify_code, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
	assert_string_equal(f.verify_error,
			    X509_verify_cert_error_string(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT));
	assert_true(f.name_match);
	check_fingerprint(c.x, f.sha256);
	/* Session fields untouched. */
	assert_string_equal(f.version, "");
	assert_string_equal(f.cipher, "");

	/* Without a store: no verification, everything else the same. */
	facts(c.x, NULL, "MX.Example.COM.", &f);
	assert_false(f.verify_checked);
	assert_false(f.verified);
	assert_string_equal(f.verify_error, "not checked");
	assert_true(f.self_signed);
	assert_true(f.name_match);
	free_cert(&c);
}

static void test_ca_signed(void **state)
{
	struct mh_tls_facts f;
	struct cert c = make_cert("mx.example.com", "DNS:mx.example.com,DNS:mail.example.com",
				  -30 * DAY, 60 * DAY, &g_ca, false);
	STACK_OF(X509) *chain = sk_X509_new_null();
	char err[MH_ERRLEN] = "";

	(void)state;
	facts(c.x, g_store, "mail.example.com", &f);
	assert_string_equal(f.subject, "CN=mx.example.com,O=Mailhole Test");
	assert_string_equal(f.issuer, "CN=Mailhole Test CA,O=Mailhole Test");
	assert_int_equal(f.nsans, 2);
	assert_string_equal(f.sans[0], "mx.example.com");
	assert_string_equal(f.sans[1], "mail.example.com");
	assert_string_equal(f.not_before, "2025-12-02T00:00:00Z");
	assert_string_equal(f.not_after, "2026-03-02T00:00:00Z");
	assert_int_equal(f.days_left, 60);
	assert_false(f.self_signed);
	assert_true(f.verified);
	assert_int_equal(f.verify_code, X509_V_OK);
	assert_string_equal(f.verify_error, "ok");
	assert_true(f.name_match);
	check_fingerprint(c.x, f.sha256);

	/* A store without the CA: unable to get the issuer. */
	X509_STORE *empty = X509_STORE_new();

	facts(c.x, empty, "mx.example.com", &f);
	assert_false(f.verified);
	assert_int_equal(f.verify_code, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	X509_STORE_free(empty);

	/* The chain as SSL_get_peer_cert_chain() gives it (leaf first) still verifies. */
	assert_non_null(chain);
	assert_true(sk_X509_push(chain, c.x) > 0);
	memset(&f, 0, sizeof(f));
	assert_int_equal(mh_tls_facts_from_cert(c.x, chain, g_store, "mx.example.com", NOW, &f,
						err, sizeof(err)),
			 0);
	assert_true(f.verified);
	sk_X509_free(chain);
	free_cert(&c);
}

static void test_expired(void **state)
{
	struct mh_tls_facts f;
	struct cert c = make_cert("old.example.com", "DNS:old.example.com", -400 * DAY, -DAY,
				  &g_ca, false);

	(void)state;
	facts(c.x, g_store, "old.example.com", &f);
	assert_int_equal(f.days_left, -1);
	assert_true(f.expired);
	assert_false(f.verified);
	assert_int_equal(f.verify_code, X509_V_ERR_CERT_HAS_EXPIRED);
	assert_string_equal(f.verify_error,
			    X509_verify_cert_error_string(X509_V_ERR_CERT_HAS_EXPIRED));
	assert_string_equal(f.not_after, "2025-12-31T00:00:00Z");
	assert_true(f.name_match);
	free_cert(&c);

	/* One second past not-after: expired, -1 day (floor), not 0. */
	c = make_cert("old.example.com", "DNS:old.example.com", -DAY, -1, &g_ca, false);
	facts(c.x, g_store, "old.example.com", &f);
	assert_int_equal(f.days_left, -1);
	assert_true(f.expired);
	free_cert(&c);

	/* Not yet valid. */
	c = make_cert("new.example.com", "DNS:new.example.com", DAY, 90 * DAY, &g_ca, false);
	facts(c.x, g_store, "new.example.com", &f);
	assert_true(f.not_yet_valid);
	assert_false(f.expired);
	assert_int_equal(f.verify_code, X509_V_ERR_CERT_NOT_YET_VALID);
	free_cert(&c);
}

static void test_expiring(void **state)
{
	struct mh_tls_facts f;
	struct cert c = make_cert("soon.example.com", "DNS:soon.example.com", -80 * DAY,
				  10 * DAY, &g_ca, false);

	(void)state;
	facts(c.x, g_store, "soon.example.com", &f);
	assert_int_equal(f.days_left, 10);
	assert_false(f.expired);
	assert_true(f.verified);
	assert_string_equal(f.not_after, "2026-01-11T00:00:00Z");
	free_cert(&c);

	/* 10 days minus a second: 9 whole days left. */
	c = make_cert("soon.example.com", "DNS:soon.example.com", -80 * DAY, 10 * DAY - 1, &g_ca,
		      false);
	facts(c.x, g_store, "soon.example.com", &f);
	assert_int_equal(f.days_left, 9);
	free_cert(&c);
}

static void test_name_mismatch(void **state)
{
	struct mh_tls_facts f;
	struct cert c = make_cert("mx.example.com", "DNS:mx.example.com", -DAY, 90 * DAY, &g_ca,
				  false);

	(void)state;
	facts(c.x, g_store, "mx2.example.com", &f);
	assert_false(f.name_match);
	assert_true(f.verified); /* names are not part of the chain check */
	facts(c.x, g_store, "example.com", &f);
	assert_false(f.name_match);
	facts(c.x, g_store, "", &f);
	assert_false(f.name_match);
	facts(c.x, g_store, NULL, &f);
	assert_false(f.name_match);
	facts(c.x, g_store, "192.0.2.1", &f);
	assert_false(f.name_match);
	free_cert(&c);

	/* No SAN at all: the CN names the host, but the CN is never used. */
	c = make_cert("mx.example.com", NULL, -DAY, 90 * DAY, &g_ca, false);
	facts(c.x, g_store, "mx.example.com", &f);
	assert_int_equal(f.nsans, 0);
	assert_false(f.name_match);
	free_cert(&c);
}

static void test_wildcard(void **state)
{
	struct mh_tls_facts f;
	struct cert c = make_cert("*.example.com", "DNS:*.example.com", -DAY, 90 * DAY, &g_ca,
				  false);
	struct cert p = make_cert("m.example.org", "DNS:m*.example.org", -DAY, 90 * DAY, &g_ca,
				  false);

	(void)state;
	facts(c.x, g_store, "mx.example.com", &f);
	assert_string_equal(f.sans[0], "*.example.com");
	assert_true(f.name_match);
	facts(c.x, g_store, "MX.EXAMPLE.COM", &f);
	assert_true(f.name_match);
	facts(c.x, g_store, "example.com", &f);
	assert_false(f.name_match);
	facts(c.x, g_store, "a.mx.example.com", &f);
	assert_false(f.name_match);
	facts(c.x, g_store, "mx.example.net", &f);
	assert_false(f.name_match);
	/* A partial wildcard label is refused. */
	facts(p.x, g_store, "mx.example.org", &f);
	assert_false(f.name_match);
	free_cert(&p);
	free_cert(&c);
}

static void test_ip_san(void **state)
{
	struct mh_tls_facts f;
	struct cert c = make_cert("192.0.2.25", "DNS:mx.example.com,IP:192.0.2.25,IP:2001:db8::25",
				  -DAY, 90 * DAY, &g_ca, false);
	struct cert cn = make_cert("192.0.2.26", "DNS:mx.example.com", -DAY, 90 * DAY, &g_ca,
				   false);
	char buf[64];

	(void)state;
	facts(c.x, g_store, "192.0.2.25", &f);
	assert_int_equal(f.nsans, 3);
	assert_string_equal(f.sans[1], "192.0.2.25");
	assert_string_equal(f.sans[2], "2001:db8::25");
	assert_true(f.name_match);
	facts(c.x, g_store, "[192.0.2.25]", &f);
	assert_true(f.name_match);
	facts(c.x, g_store, "[IPv6:2001:DB8::25]", &f);
	assert_true(f.name_match);
	facts(c.x, g_store, "2001:db8:0:0::25", &f);
	assert_true(f.name_match);
	facts(c.x, g_store, "192.0.2.26", &f);
	assert_false(f.name_match);
	/* An address only in the CN (or as a DNS SAN) does not match. */
	facts(cn.x, g_store, "192.0.2.26", &f);
	assert_false(f.name_match);

	assert_true(mh_tls_host_is_ip("[IPv6:::1]", buf, sizeof(buf)));
	assert_string_equal(buf, "::1");
	assert_false(mh_tls_host_is_ip("mx.example.com", buf, sizeof(buf)));
	assert_false(mh_tls_host_is_ip("[]", buf, sizeof(buf)));
	assert_false(mh_tls_host_is_ip(NULL, buf, sizeof(buf)));
	free_cert(&cn);
	free_cert(&c);
}

static void test_many_sans_and_odd_names(void **state)
{
	char sans[2048] = "";
	size_t o = 0;
	struct mh_tls_facts f;
	struct cert c;

	(void)state;
	for (int i = 0; i < 20; i++)
		o += (size_t)snprintf(sans + o, sizeof(sans) - o, "%sDNS:h%d.example.com",
				      i ? "," : "", i);
	c = make_cert("Caf\xc3\xa9 \x01 \"q\"", sans, -DAY, 90 * DAY, &g_ca, false);
	facts(c.x, g_store, "h19.example.com", &f);
	assert_int_equal(f.nsans, MH_TLS_SANS_MAX);
	assert_int_equal(f.nsans_total, 20);
	assert_string_equal(f.sans[15], "h15.example.com");
	assert_true(f.name_match); /* matched on the cert, not on the kept list */
	/* UTF-8 kept, the control character and the quotes escaped, one line. */
	assert_non_null(strstr(f.subject, "Caf\xc3\xa9"));
	assert_null(strchr(f.subject, '\x01'));
	assert_null(strchr(f.subject, '\n'));
	free_cert(&c);
}

static void test_errors(void **state)
{
	struct mh_tls_facts f;
	char err[MH_ERRLEN] = "";

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(mh_tls_facts_from_cert(NULL, NULL, NULL, "x", NOW, &f, err, sizeof(err)),
			 MH_EINVAL);
	assert_true(err[0] != '\0');
	assert_false(f.have_cert);
	mh_tls_facts_from_ssl(NULL, &f);
	assert_string_equal(f.version, "");
	assert_int_equal(f.proto, 0);
}

/* Runs both ends of a handshake over a BIO pair until neither wants more. */
static void handshake(SSL *cli, SSL *srv)
{
	for (int i = 0; i < 100; i++) {
		int a = SSL_do_handshake(cli);
		int b = SSL_do_handshake(srv);

		if (a == 1 && b == 1)
			return;
		if (a != 1)
			assert_int_equal(SSL_get_error(cli, a), SSL_ERROR_WANT_READ);
		if (b != 1)
			assert_int_equal(SSL_get_error(srv, b), SSL_ERROR_WANT_READ);
	}
	fail_msg("handshake did not finish");
}

static void session(int max_version, const char *want_version)
{
	struct cert c = make_cert("mx.example.com", "DNS:mx.example.com", -DAY, 90 * DAY, &g_ca,
				  false);
	SSL_CTX *sctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *srv, *cli;
	BIO *bc, *bs;
	struct mh_tls_facts f;
	char err[MH_ERRLEN] = "";
	X509 *peer;

	assert_non_null(sctx);
	assert_non_null(cctx);
	assert_int_equal(SSL_CTX_use_certificate(sctx, c.x), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(sctx, c.key), 1);
	assert_int_equal(SSL_CTX_set_max_proto_version(sctx, max_version), 1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	srv = SSL_new(sctx);
	cli = SSL_new(cctx);
	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(cli, bc, bc);
	SSL_set_bio(srv, bs, bs);
	SSL_set_connect_state(cli);
	SSL_set_accept_state(srv);
	handshake(cli, srv);

	memset(&f, 0, sizeof(f));
	mh_tls_facts_from_ssl(cli, &f);
	assert_string_equal(f.version, want_version);
	assert_int_equal(f.proto, max_version);
	assert_true(f.cipher[0] != '\0');
	assert_string_equal(f.cipher, SSL_CIPHER_get_name(SSL_get_current_cipher(cli)));

	peer = SSL_get1_peer_certificate(cli);
	assert_non_null(peer);
	assert_int_equal(mh_tls_facts_from_cert(peer, SSL_get_peer_cert_chain(cli), g_store,
						"mx.example.com", NOW, &f, err, sizeof(err)),
			 0);
	assert_true(f.verified);
	assert_true(f.name_match);
	assert_string_equal(f.version, want_version); /* untouched by from_cert */
	X509_free(peer);

	SSL_free(cli);
	SSL_free(srv);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	free_cert(&c);
}

static void test_session(void **state)
{
	(void)state;
	session(TLS1_3_VERSION, "TLSv1.3");
	session(TLS1_2_VERSION, "TLSv1.2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_self_signed),
	    cmocka_unit_test(test_ca_signed),
	    cmocka_unit_test(test_expired),
	    cmocka_unit_test(test_expiring),
	    cmocka_unit_test(test_name_mismatch),
	    cmocka_unit_test(test_wildcard),
	    cmocka_unit_test(test_ip_san),
	    cmocka_unit_test(test_many_sans_and_odd_names),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_session),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
