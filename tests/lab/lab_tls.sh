#!/bin/bash
# lab_tls.sh MAILHOLE BUILD_DIR -- STARTTLS in the sweep's SMTP session.
#
#   scanner ns  198.18.0.1/30 --veth-- 198.18.0.2/30  target ns
#               routes 198.18.22.0/24 via 198.18.0.2
#   target ns, on lo:
#     198.18.22.2  mx-tls.lab.test    Postfix, smtpd_tls_security_level = may,
#                                     a self-signed P-256 certificate made here;
#                                     SMTPS (implicit TLS) on 465 too
#     198.18.22.3  mx-plain.lab.test  Postfix without TLS
#     198.18.22.10 mh-badsmtp tlsjunk (220 to STARTTLS, then cleartext junk)
#     198.18.22.11 mh-badsmtp tlsstall (220 to STARTTLS, then silence)
#
# Run 1: mailhole scan mx-tls.lab.test 198.18.22.3: the TLS one records
#        tls.version TLSv1.3, the certificate's subject and SAN, self_signed
#        true, verified false, name_match true and ehlo_tls capabilities; the
#        plain one records tls null.
#        Findings (both named mail servers by a policy): cert-expiring (a
#        2-day certificate), no cert-name-mismatch; no-starttls on the plain
#        one only; no exposed-smtp.
# Run 2: --no-starttls: tls null for the TLS one too.
# Run 3: -p 465 on the TLS one: the session runs over implicit TLS.
# Run 4: the broken TLS servers: tls.error "tls-handshake-failed: ..." and
#        "tls-timeout", the cleartext record intact; auth-before-tls fires.
#
# Exit 0 pass, 1 fail, 77 skip (no root / netns / openssl).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# MAILHOLE and BUILD_DIR from the arguments, root and netns or skip, the ledger, fail()
lab_start "$@"

command -v openssl >/dev/null 2>&1 || lab_skip "no openssl(1)"
command -v jq >/dev/null 2>&1 || lab_skip "no jq"
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$PWD/$BUILD_DIR ;; esac
BADSMTP=$BUILD_DIR/mh-badsmtp
[ -x "$BADSMTP" ] || lab_die "no mh-badsmtp at $BADSMTP (build the mh-badsmtp target)"

NET=198.18.22
TLS_ADDR=$NET.2
PLAIN_ADDR=$NET.3
JUNK_ADDR=$NET.10
STALL_ADDR=$NET.11

# expect_port FILE ADDR DESC FILTER [PORT]: FILTER on the port record of
# ADDR:PORT (default 25).
expect_port() {
	local file=$1 addr=$2 desc=$3 filter=$4 port=${5:-25} rec
	rec=$(jq -c --arg a "$addr" --argjson p "$port" \
		'[.hosts[]? | select(.addr == $a) | .ports[]? | select(.port == $p)] | first' "$file" 2>/dev/null)
	if [ -z "$rec" ] || [ "$rec" = null ]; then
		fail "$addr:$port $desc: no such port record"
		return
	fi
	if ! jq -e "$filter" >/dev/null 2>&1 <<<"$rec"; then
		fail "$addr:$port $desc"
		echo "      check: $filter"
		echo "      got:   ${rec:0:1200}"
	fi
}

run_scan() {
	local name=$1 rc pid
	shift
	timeout 120 ip netns exec "$SCANNS" "$MAILHOLE" scan "$@" \
		</dev/null >"$LAB_TMP/$name.out" 2>"$LAB_TMP/$name.err" &
	pid=$!
	LAB_PIDS+=("$pid")
	wait "$pid"
	rc=$?
	echo "lab: $name: mailhole scan $* -> exit $rc"
	if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
		fail "$name: mailhole exited $rc (0 or 1 expected)"
		sed 's/^/      stderr: /' "$LAB_TMP/$name.err" | head -n 20
		return 1
	fi
	return 0
}

lab_body() {
	lab_init
	lab_install_postfix

	SCANNS=mhl-$LAB_ID-s
	TGTNS=mhl-$LAB_ID-t
	lab_netns_add "$SCANNS"
	lab_netns_add "$TGTNS"
	lab_veth "$SCANNS" "mhl${LAB_ID}s" "$TGTNS" "mhl${LAB_ID}t"
	ip -n "$SCANNS" addr add 198.18.0.1/30 dev "mhl${LAB_ID}s" || lab_die "scanner address failed"
	ip -n "$SCANNS" route add $NET.0/24 via 198.18.0.2 || lab_die "scanner route failed"
	ip -n "$TGTNS" addr add 198.18.0.2/30 dev "mhl${LAB_ID}t" || lab_die "target address failed"
	ip -n "$TGTNS" addr add "$TLS_ADDR/32" dev lo || lab_die "addr failed"
	ip -n "$TGTNS" addr add "$PLAIN_ADDR/32" dev lo || lab_die "addr failed"
	ip -n "$TGTNS" addr add "$JUNK_ADDR/32" dev lo || lab_die "addr failed"
	ip -n "$TGTNS" addr add "$STALL_ADDR/32" dev lo || lab_die "addr failed"
	local hosts=("198.18.0.1 scanner.lab.test scanner" "$TLS_ADDR mx-tls.lab.test mx-tls"
		"$PLAIN_ADDR mx-plain.lab.test mx-plain")
	lab_netns_hosts "$SCANNS" "${hosts[@]}"
	lab_netns_hosts "$TGTNS" "${hosts[@]}"

	local crt=$LAB_TMP/mx-tls.crt key=$LAB_TMP/mx-tls.key
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=mx-tls.lab.test -addext subjectAltName=DNS:mx-tls.lab.test \
		-keyout "$key" -out "$crt" >"$LAB_TMP/openssl.log" 2>&1 ||
		lab_die "openssl req failed: $(cat "$LAB_TMP/openssl.log")"
	chmod 600 "$key"

	lab_postfix_instance "$TGTNS" "$LAB_TMP/mx-tls" mx-tls.lab.test "$TLS_ADDR" \
		"smtpd_tls_security_level = may
smtpd_tls_cert_file = $crt
smtpd_tls_key_file = $key"
	lab_postfix_instance "$TGTNS" "$LAB_TMP/mx-plain" mx-plain.lab.test "$PLAIN_ADDR"
	lab_spawn "$TGTNS" "$LAB_TMP/badsmtp.pid" "$LAB_TMP/badsmtp.log" "$BADSMTP" \
		-P "$LAB_TMP/badsmtp.pid" -l "$JUNK_ADDR:25=tlsjunk" -l "$STALL_ADDR:25=tlsstall"

	# ---- run 1: STARTTLS on (the default) ------------------------------------
	local J1=$LAB_TMP/run1.json
	# both are the fleet's mail servers: no-starttls fires on the plain one only
	printf '{"mail_servers": ["%s", "%s"]}\n' "$TLS_ADDR" "$PLAIN_ADDR" >"$LAB_TMP/policy.json"
	if run_scan run1 mx-tls.lab.test "$PLAIN_ADDR" --timeout 2000 --session-timeout 8000 \
		--policy "$LAB_TMP/policy.json" --quiet -o "$J1"; then
		expect_port "$J1" "$TLS_ADDR" "EHLO offers STARTTLS" \
			'.smtp.ehlo.capabilities | index("STARTTLS") != null'
		expect_port "$J1" "$TLS_ADDR" "TLS 1.3, no error" \
			'.smtp.tls.version == "TLSv1.3" and .smtp.tls.error == null and (.smtp.tls.cipher | length > 0)'
		expect_port "$J1" "$TLS_ADDR" "the certificate" \
			'.smtp.tls.cert.subject == "CN=mx-tls.lab.test" and .smtp.tls.cert.sans == ["mx-tls.lab.test"]
			 and .smtp.tls.cert.self_signed == true and .smtp.tls.cert.verified == false
			 and .smtp.tls.cert.name_match == true and (.smtp.tls.cert.days_left | . >= 0 and . <= 2)
			 and (.smtp.tls.cert.sha256 | length == 95)'
		expect_port "$J1" "$TLS_ADDR" "EHLO over TLS: capabilities, no STARTTLS" \
			'.smtp.ehlo_tls.code == 250 and (.smtp.ehlo_tls.capabilities | length > 0)
			 and (.smtp.ehlo_tls.capabilities | index("STARTTLS") == null)'
		expect_port "$J1" "$TLS_ADDR" "no session error" '.smtp.error == null'
		jq -e --arg a "$TLS_ADDR" '[.hosts[] | select(.addr == $a) | .findings[].id] |
			index("cert-expiring") != null and index("cert-name-mismatch") == null' "$J1" >/dev/null ||
			fail "$TLS_ADDR: cert-expiring (2-day certificate) and no cert-name-mismatch expected"
		expect_port "$J1" "$PLAIN_ADDR" "no TLS: tls null" \
			'.smtp.code == 220 and .smtp.tls == null and .smtp.ehlo_tls == null and .smtp.error == null'
		jq -e --arg p "$PLAIN_ADDR" --arg t "$TLS_ADDR" \
			'([.hosts[] | select(.addr == $p) | .findings[].id] | index("no-starttls") != null) and
			 ([.hosts[] | select(.addr == $t) | .findings[].id] | index("no-starttls") == null)' \
			"$J1" >/dev/null || fail "no-starttls expected on the plain mail server only"
		jq -e '[.hosts[].findings[].id] | index("exposed-smtp") == null' "$J1" >/dev/null ||
			fail "exposed-smtp on a host the policy names a mail server"
	fi

	# ---- run 2: --no-starttls -------------------------------------------------
	local J2=$LAB_TMP/run2.json
	if run_scan run2 mx-tls.lab.test --no-starttls --timeout 2000 --session-timeout 8000 \
		--quiet -o "$J2"; then
		expect_port "$J2" "$TLS_ADDR" "--no-starttls: tls null" \
			'.smtp.code == 220 and .smtp.tls == null and .smtp.ehlo_tls == null and
			 (.smtp.ehlo.capabilities | index("STARTTLS") != null)'
	fi

	# ---- run 3: implicit TLS on 465 --------------------------------------------
	local J3=$LAB_TMP/run3.json
	if run_scan run3 mx-tls.lab.test -p 465 --timeout 2000 --session-timeout 8000 \
		--quiet -o "$J3"; then
		expect_port "$J3" "$TLS_ADDR" "465: the session over implicit TLS" \
			'.state == "open" and .smtp.code == 220 and .smtp.tls.implicit == true
			 and .smtp.tls.version == "TLSv1.3" and .smtp.tls.error == null
			 and .smtp.tls.cert.subject == "CN=mx-tls.lab.test"
			 and .smtp.ehlo.code == 250 and (.smtp.ehlo.capabilities | index("STARTTLS") == null)
			 and .smtp.ehlo_tls == null and .smtp.error == null' 465
	fi

	# ---- run 4: servers that cannot do TLS -------------------------------------
	local J4=$LAB_TMP/run4.json
	if run_scan run4 "$JUNK_ADDR" "$STALL_ADDR" --timeout 1000 --session-timeout 6000 \
		--quiet -o "$J4"; then
		expect_port "$J4" "$JUNK_ADDR" "junk after 220: tls-handshake-failed" \
			'.smtp.code == 220 and .smtp.error == null and .smtp.tls.version == null
			 and (.smtp.tls.error | startswith("tls-handshake-failed")) and .smtp.tls.cert == null
			 and .smtp.ehlo_tls == null'
		expect_port "$J4" "$STALL_ADDR" "silence after 220: tls-timeout" \
			'.smtp.code == 220 and .smtp.error == null and .smtp.tls.error == "tls-timeout"'
		jq -e --arg a "$JUNK_ADDR" '[.hosts[] | select(.addr == $a) | .findings[].id] |
			index("auth-before-tls") != null' "$J4" >/dev/null ||
			fail "$JUNK_ADDR: auth-before-tls expected"
	fi

	[ "$FAILS" = 0 ] || exit 1
	exit 0
}

lab_run_isolated
rc=$?
case $rc in
0) echo "PASS: lab_tls" ;;
77) ;;
*) echo "lab_tls: FAILED (exit $rc)" ;;
esac
exit "$rc"
