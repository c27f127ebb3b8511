#!/bin/bash
# lab_smtp_depth.sh MAILHOLE BUILD_DIR -- VRFY / EXPN, the open-relay test and
# certificate faults against real Postfix instances.
#
#   scanner ns  198.18.0.1/30 --veth-- 198.18.0.2/30  target ns
#               routes 198.18.23.0/24 via 198.18.0.2
#   target ns, on lo (each a Postfix instance of its own):
#     198.18.23.2  mx-vrfy.lab.test      VRFY on (Postfix's default)
#     198.18.23.3  mx-novrfy.lab.test    disable_vrfy_command = yes
#     198.18.23.4  mx-open.lab.test      an open relay for the test domain:
#                                        relay_domains = relaytest.example
#     198.18.23.5  mx-closed.lab.test    the default relay rules (and the default error
#                                        tarpit: 1 s a reply after 10 errors)
#     198.18.23.6  mx-expired.lab.test   STARTTLS with an expired certificate (made with
#                                        `openssl ca -startdate/-enddate`), TLS required
#                                        before mail (smtpd_tls_security_level = encrypt)
#     198.18.23.7  mx-mismatch.lab.test  STARTTLS with a certificate for another name
#     198.18.23.9  relaytest.example     the relay test domain's own MX: accepts and
#                                        discards its mail, logging the Message-ID
#
# Run 1: --vrfy on the four vrfy/TLS hosts: smtp.vrfy "discloses" and vrfy-enabled
#        on mx-vrfy only; "disabled" on mx-novrfy; expn "disabled" (Postfix has no
#        EXPN: 500); the questions over TLS on mx-expired; cert-expired on mx-expired,
#        cert-name-mismatch on mx-mismatch and neither elsewhere.
# Run 2: --relay-test-data on mx-open and mx-closed: open-relay (critical) with the
#        accepted pairs on mx-open only, the tagged message accepted there and
#        arrived at the test domain's MX; mx-closed refuses all 16 pairs (454,
#        defer_unauth_destination) through Postfix's tarpit within the session's
#        deadline (no relay error).
# Run 3: --relay-test with a policy without relay_test_domain: exit 2, one line.
# Run 4: --vrfy --no-starttls on mx-expired: no answer in clear (530): vrfy null.
#
# Exit 0 pass, 1 fail, 77 skip (no root / netns / openssl / jq).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# MAILHOLE and BUILD_DIR from the arguments, root and netns or skip, the ledger, fail()
lab_start "$@"

command -v openssl >/dev/null 2>&1 || lab_skip "no openssl(1)"
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$PWD/$BUILD_DIR ;; esac

NET=198.18.23
VRFY_ADDR=$NET.2
NOVRFY_ADDR=$NET.3
OPEN_ADDR=$NET.4
CLOSED_ADDR=$NET.5
EXPIRED_ADDR=$NET.6
MISMATCH_ADDR=$NET.7
SINK_ADDR=$NET.9
TEST_DOMAIN=relaytest.example

# expect_port FILE ADDR DESC FILTER: FILTER on the port-25 record of ADDR.
expect_port() {
	local file=$1 addr=$2 desc=$3 filter=$4 rec
	rec=$(jq -c --arg a "$addr" \
		'[.hosts[]? | select(.addr == $a) | .ports[]? | select(.port == 25)] | first' "$file" 2>/dev/null)
	if [ -z "$rec" ] || [ "$rec" = null ]; then
		fail "$addr $desc: no port-25 record"
		return
	fi
	if ! jq -e "$filter" >/dev/null 2>&1 <<<"$rec"; then
		fail "$addr $desc"
		echo "      check: $filter"
		echo "      got:   ${rec:0:1500}"
	fi
}

# expect_findings FILE ADDR DESC FILTER: FILTER on the list of the host's finding IDs.
expect_findings() {
	local file=$1 addr=$2 desc=$3 filter=$4 ids
	ids=$(jq -c --arg a "$addr" '[.hosts[]? | select(.addr == $a) | .findings[]?.id]' "$file" 2>/dev/null)
	if ! jq -e "$filter" >/dev/null 2>&1 <<<"${ids:-null}"; then
		fail "$addr $desc"
		echo "      check: $filter"
		echo "      got:   $ids"
	fi
}

run_scan() {
	local name=$1 rc pid
	shift
	timeout 300 ip netns exec "$SCANNS" "$MAILHOLE" scan "$@" \
		</dev/null >"$LAB_TMP/$name.out" 2>"$LAB_TMP/$name.err" &
	pid=$!
	LAB_PIDS+=("$pid")
	wait "$pid"
	rc=$?
	echo "lab: $name: mailhole scan $* -> exit $rc"
	LAST_RC=$rc
	if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
		fail "$name: mailhole exited $rc (0 or 1 expected)"
		sed 's/^/      stderr: /' "$LAB_TMP/$name.err" | head -n 20
		return 1
	fi
	return 0
}

# make_cert NAME SAN [STARTDATE ENDDATE]: LAB_TMP/NAME.crt and .key (P-256). With
# dates (YYYYMMDDHHMMSSZ) the certificate is issued by `openssl ca -selfsign`
# from a throwaway CA directory, which can date it in the past.
make_cert() {
	local name=$1 san=$2 start=${3:-} end=${4:-} log=$LAB_TMP/openssl.log
	local key=$LAB_TMP/$name.key crt=$LAB_TMP/$name.crt
	if [ -z "$start" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
			-subj "/CN=$san" -addext "subjectAltName=DNS:$san" \
			-keyout "$key" -out "$crt" >"$log" 2>&1 || lab_die "openssl req failed: $(cat "$log")"
	else
		local ca=$LAB_TMP/ca-$name
		mkdir -p "$ca/new" && : >"$ca/index.txt" && echo 01 >"$ca/serial"
		cat >"$ca/ca.cnf" <<EOF
[ ca ]
default_ca = lab
[ lab ]
dir = $ca
database = $ca/index.txt
new_certs_dir = $ca/new
serial = $ca/serial
default_md = sha256
policy = anything
copy_extensions = copy
unique_subject = no
[ anything ]
commonName = supplied
EOF
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-subj "/CN=$san" -addext "subjectAltName=DNS:$san" \
			-keyout "$key" -out "$ca/req.csr" >"$log" 2>&1 || lab_die "openssl req -new failed: $(cat "$log")"
		openssl ca -batch -config "$ca/ca.cnf" -selfsign -keyfile "$key" -in "$ca/req.csr" \
			-out "$crt" -startdate "$start" -enddate "$end" >>"$log" 2>&1 ||
			lab_die "openssl ca failed: $(cat "$log")"
	fi
	chmod 600 "$key"
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
	local a
	for a in "$VRFY_ADDR" "$NOVRFY_ADDR" "$OPEN_ADDR" "$CLOSED_ADDR" "$EXPIRED_ADDR" \
		"$MISMATCH_ADDR" "$SINK_ADDR"; do
		ip -n "$TGTNS" addr add "$a/32" dev lo || lab_die "addr $a failed"
	done
	local hosts=("198.18.0.1 scanner.lab.test scanner"
		"$VRFY_ADDR mx-vrfy.lab.test" "$NOVRFY_ADDR mx-novrfy.lab.test"
		"$OPEN_ADDR mx-open.lab.test" "$CLOSED_ADDR mx-closed.lab.test"
		"$EXPIRED_ADDR mx-expired.lab.test" "$MISMATCH_ADDR mx-mismatch.lab.test"
		"$SINK_ADDR $TEST_DOMAIN")
	lab_netns_hosts "$SCANNS" "${hosts[@]}"
	lab_netns_hosts "$TGTNS" "${hosts[@]}"

	make_cert expired mx-expired.lab.test 20200101000000Z 20200201000000Z
	make_cert mismatch other-host.lab.test
	openssl x509 -in "$LAB_TMP/expired.crt" -noout -checkend 0 >/dev/null 2>&1 &&
		lab_die "the expired certificate is not expired"

	lab_postfix_instance "$TGTNS" "$LAB_TMP/mx-vrfy" mx-vrfy.lab.test "$VRFY_ADDR"
	lab_postfix_instance "$TGTNS" "$LAB_TMP/mx-novrfy" mx-novrfy.lab.test "$NOVRFY_ADDR" \
		"disable_vrfy_command = yes"
	lab_postfix_instance "$TGTNS" "$LAB_TMP/mx-open" mx-open.lab.test "$OPEN_ADDR" \
		"relay_domains = $TEST_DOMAIN"
	lab_postfix_instance "$TGTNS" "$LAB_TMP/mx-closed" mx-closed.lab.test "$CLOSED_ADDR"
	lab_postfix_instance "$TGTNS" "$LAB_TMP/mx-expired" mx-expired.lab.test "$EXPIRED_ADDR" \
		"smtpd_tls_security_level = encrypt
smtpd_tls_cert_file = $LAB_TMP/expired.crt
smtpd_tls_key_file = $LAB_TMP/expired.key"
	lab_postfix_instance "$TGTNS" "$LAB_TMP/mx-mismatch" mx-mismatch.lab.test "$MISMATCH_ADDR" \
		"smtpd_tls_security_level = may
smtpd_tls_cert_file = $LAB_TMP/mismatch.crt
smtpd_tls_key_file = $LAB_TMP/mismatch.key"
	lab_postfix_instance "$TGTNS" "$LAB_TMP/sink" "$TEST_DOMAIN" "$SINK_ADDR" \
		"mydestination = $TEST_DOMAIN
local_recipient_maps =
local_transport = discard:arrived at the relay test domain"

	cat >"$LAB_TMP/policy.json" <<EOF
{ "domain": "lab.test", "relay_test_domain": "$TEST_DOMAIN",
  "mail_servers": ["$NET.0/24"] }
EOF
	cat >"$LAB_TMP/policy-norelay.json" <<EOF
{ "domain": "lab.test", "mail_servers": ["$NET.0/24"] }
EOF

	# ---- run 1: --vrfy and the certificates ------------------------------------
	local J1=$LAB_TMP/run1.json
	if run_scan run1 mx-vrfy.lab.test mx-novrfy.lab.test mx-expired.lab.test \
		mx-mismatch.lab.test --vrfy --policy "$LAB_TMP/policy.json" --timeout 2000 \
		--quiet -o "$J1"; then
		expect_port "$J1" "$VRFY_ADDR" "VRFY discloses (252 root, 550 for the bogus name)" \
			'.smtp.vrfy == "discloses" and .smtp.expn == "disabled" and .smtp.error == null
			 and .smtp.vrfy_check.tls == false and .smtp.vrfy_check.error == null
			 and (.smtp.vrfy_check.answers | map(.code)) == [252, 550, 500]
			 and (.smtp.vrfy_check.bogus | test("^mhnx[a-z0-9]{12}$"))
			 and .smtp.relay == null'
		expect_findings "$J1" "$VRFY_ADDR" "vrfy-enabled, not expn-enabled" \
			'index("vrfy-enabled") != null and index("expn-enabled") == null and index("open-relay") == null'
		expect_port "$J1" "$NOVRFY_ADDR" "disable_vrfy_command: disabled (502), bogus never asked" \
			'.smtp.vrfy == "disabled" and .smtp.expn == "disabled"
			 and (.smtp.vrfy_check.answers | map(.command)) == ["VRFY root", "EXPN root"]
			 and (.smtp.vrfy_check.answers[0].reply | test("disabled"))'
		expect_findings "$J1" "$NOVRFY_ADDR" "no vrfy-enabled" \
			'index("vrfy-enabled") == null and index("expn-enabled") == null'
		expect_port "$J1" "$EXPIRED_ADDR" "expired certificate; VRFY asked over TLS" \
			'.smtp.tls.error == null and .smtp.tls.cert.not_after == "2020-02-01T00:00:00Z"
			 and .smtp.tls.cert.days_left < 0 and .smtp.tls.cert.name_match == true
			 and .smtp.vrfy_check.tls == true and .smtp.vrfy == "discloses"'
		expect_findings "$J1" "$EXPIRED_ADDR" "cert-expired, no cert-name-mismatch" \
			'index("cert-expired") != null and index("cert-name-mismatch") == null
			 and index("cert-expiring") == null and index("vrfy-enabled") != null'
		expect_port "$J1" "$MISMATCH_ADDR" "certificate for another name" \
			'.smtp.tls.error == null and .smtp.tls.cert.sans == ["other-host.lab.test"]
			 and .smtp.tls.cert.name_match == false and .smtp.tls.cert.days_left > 300'
		expect_findings "$J1" "$MISMATCH_ADDR" "cert-name-mismatch, no cert-expired" \
			'index("cert-name-mismatch") != null and index("cert-expired") == null'
		expect_findings "$J1" "$VRFY_ADDR" "no certificate findings without TLS" \
			'index("cert-expired") == null and index("cert-name-mismatch") == null'
	fi

	# ---- run 2: the open-relay test with DATA ----------------------------------
	local J2=$LAB_TMP/run2.json t0 t1
	t0=$(date +%s)
	if run_scan run2 mx-open.lab.test mx-closed.lab.test --relay-test-data \
		--policy "$LAB_TMP/policy.json" --timeout 2000 --quiet -o "$J2"; then
		t1=$(date +%s)
		echo "lab: run2 took $((t1 - t0)) s (whole-session deadline 10 + 60 + 15 s)"
		[ "$LAST_RC" = 1 ] || fail "run2: exit 1 expected (open-relay is critical)"
		expect_port "$J2" "$OPEN_ADDR" "open relay: pairs accepted, the message accepted" \
			'.smtp.relay.domain == "relaytest.example" and .smtp.relay.variants == 16
			 and .smtp.relay.tested == 16 and .smtp.relay.error == null
			 and (.smtp.relay.accepted | index("null-sender") != null)
			 and (.smtp.relay.accepted | index("server-name-sender") != null)
			 and .smtp.relay.first_accepted.rcpt_to == "<relaytest@relaytest.example>"
			 and .smtp.relay.data.pair == "null-sender" and .smtp.relay.data.code == 354
			 and .smtp.relay.data.end_code == 250 and .smtp.relay.data.accepted == true
			 and (.smtp.relay.data.tag | test("^mhrelay[0-9a-f]{16}$"))
			 and .smtp.error == null and .smtp.vrfy == null'
		expect_findings "$J2" "$OPEN_ADDR" "open-relay" 'index("open-relay") != null'
		jq -e --arg a "$OPEN_ADDR" '[.hosts[] | select(.addr == $a) | .findings[]
			| select(.id == "open-relay")][0] | .severity == "critical"
			and (.evidence | test("25/tcp accepted [0-9]+ of 16 pairs toward relaytest.example \\(null-sender"))
			and (.evidence | test("message accepted: 250"))' "$J2" >/dev/null ||
			fail "$OPEN_ADDR: open-relay evidence: $(jq -c --arg a "$OPEN_ADDR" '[.hosts[] | select(.addr == $a) | .findings[]]' "$J2")"
		expect_port "$J2" "$CLOSED_ADDR" "closed relay: 16 pairs refused, no DATA, no error" \
			'.smtp.relay.variants == 16 and .smtp.relay.tested == 16
			 and .smtp.relay.accepted == [] and .smtp.relay.error == null
			 and .smtp.relay.data == null and .smtp.relay.first_accepted == null
			 and ([.smtp.relay.pairs[].rcpt | select(. != null and . < 400)] == [])
			 and .smtp.error == null'
		expect_findings "$J2" "$CLOSED_ADDR" "no open-relay" 'index("open-relay") == null'
		# The message went through the open relay to the test domain's MX.
		local tag i arrived=0
		tag=$(jq -r --arg a "$OPEN_ADDR" '.hosts[] | select(.addr == $a) | .ports[0].smtp.relay.data.tag' "$J2")
		for ((i = 0; i < 300; i++)); do
			if grep -q "message-id=<$tag@mailhole.invalid>" "$LAB_TMP/sink/maillog" 2>/dev/null; then
				arrived=1
				break
			fi
			sleep 0.1
		done
		[ "$arrived" = 1 ] || fail "the tagged message ($tag) never reached $TEST_DOMAIN's MX"
		grep -q "relay=$OPEN_ADDR\|client=mx-open\|\[$OPEN_ADDR\]" "$LAB_TMP/sink/maillog" ||
			fail "the sink's log does not show mx-open as the client"
		# DATA went only to the open relay, once.
		local ndata
		ndata=$(grep -c "message-id=<mhrelay" "$LAB_TMP/mx-closed/maillog" 2>/dev/null)
		[ "${ndata:-0}" = 0 ] || fail "mx-closed received a message"
	fi

	# ---- run 3: --relay-test without relay_test_domain ------------------------
	local rc3
	ip netns exec "$SCANNS" "$MAILHOLE" scan mx-open.lab.test --relay-test \
		--policy "$LAB_TMP/policy-norelay.json" --quiet -o "$LAB_TMP/run3.json" \
		</dev/null >"$LAB_TMP/run3.out" 2>"$LAB_TMP/run3.err"
	rc3=$?
	[ "$rc3" = 2 ] || fail "run3: --relay-test without relay_test_domain: exit $rc3, 2 expected"
	[ "$(wc -l <"$LAB_TMP/run3.err")" = 1 ] && grep -q "relay_test_domain" "$LAB_TMP/run3.err" ||
		fail "run3: one line naming relay_test_domain expected, got: $(cat "$LAB_TMP/run3.err")"
	[ -e "$LAB_TMP/run3.json" ] && fail "run3: a report was written"
	grep -q "$(printf 'connect from .*198.18.0.1')" "$LAB_TMP/mx-open/maillog" &&
		[ "$(grep -c 'connect from' "$LAB_TMP/mx-open/maillog")" -gt 2 ] &&
		fail "run3: mx-open was contacted"

	# ---- run 4: --no-starttls: the TLS-only server answers nothing in clear ---
	local J4=$LAB_TMP/run4.json
	if run_scan run4 mx-expired.lab.test --vrfy --no-starttls --timeout 2000 --quiet -o "$J4"; then
		expect_port "$J4" "$EXPIRED_ADDR" "VRFY in clear refused until STARTTLS: vrfy null" \
			'.smtp.tls == null and .smtp.vrfy == null and .smtp.vrfy_check.tls == false
			 and .smtp.vrfy_check.answers[0].code == 530'
	fi

	[ "$FAILS" = 0 ] || exit 1
	exit 0
}

lab_run_isolated
rc=$?
case $rc in
0) echo "PASS: lab_smtp_depth" ;;
77) ;;
*) echo "lab_smtp_depth: FAILED (exit $rc)" ;;
esac
exit "$rc"
