#!/bin/bash
# lab_collect.sh MAILHOLE BUILD_DIR -- the collector mailbox (probes/collect.c)
# against a real Dovecot IMAP server.
#
#   client ns  198.18.44.1/30 --veth-- 198.18.44.2/30  dovecot ns
#   Dovecot (dovecot -F -c FILE, its own base_dir), a passwd-file user
#   "audit", plain auth, mail_location = maildir: with three messages put
#   in new/ by the lab; IMAP on 143, IMAPS on 993 with a self-signed
#   certificate made here.
#
# mh-collect-client (tests/lab/collect_client.c) drives the API:
#   1. imap://: the three messages, UIDs 1..3 in order, UIDVALIDITY as in
#      Dovecot's dovecot-uidlist; password from a mode-600 file
#   2. after_uid 2 -> UID 3 only; after_uid 3 and 10 -> nothing (the
#      server's "n:*" answers the highest UID anyway: filtered)
#   3. delete UID 2 (expunged at close) -> re-list: 1 and 3; the Maildir
#      file is gone; then delete 3 with an explicit expunge
#   4. imaps:// with insecure -> the messages; without -> a TLS error;
#      the same for imap:// with STARTTLS required
#   3b. a 64 MiB + 1 message: skipped before download, counted, warned
#   5. a bad password, a wrong port, a missing mailbox, a password in the
#      URL, a world-readable password file: one clear line each, naming
#      the URL (or the file); the password never shown
#   6. UIDVALIDITY changed (doveadm) between the open and the listing:
#      "UIDVALIDITY changed", nothing handed over; a new open sees the new one
#
# Exit 0 pass, 1 fail, 77 skip (no root / netns / dovecot / openssl).
set -u

# MAILHOLE is the labs' common first argument; this lab drives the
# collector API through mh-collect-client instead
# shellcheck disable=SC2034
MAILHOLE=${1:?usage: lab_collect.sh MAILHOLE BUILD_DIR}
BUILD_DIR=${2:?usage: lab_collect.sh MAILHOLE BUILD_DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

lab_require_root
command -v openssl >/dev/null 2>&1 || lab_skip "no openssl(1)"
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$PWD/$BUILD_DIR ;; esac
CLIENT=$BUILD_DIR/mh-collect-client
[ -x "$CLIENT" ] || lab_die "no mh-collect-client at $CLIENT (build the mh-collect-client target)"

SRV=198.18.44.2
CLI=198.18.44.1
SECRET="s3cret-$$-pw"

LAB_LEDGER=$(mktemp "/tmp/mhl-ledger-$LAB_ID.XXXXXX") || lab_die "mktemp failed"
export LAB_LEDGER

FAILS=0
fail() {
	printf 'FAIL: %s\n' "$*"
	FAILS=$((FAILS + 1))
}

# dovecot-imapd when missing (never started system-wide: policy-rc.d).
install_dovecot() {
	[ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] && return 0
	lab_log "installing dovecot-imapd (apt-get)"
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		# (lab_remove_policy_rc in lib.sh removes it again)
		# shellcheck disable=SC2034
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d &&
			LAB_POLICY_RC_CREATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300 install \
		--no-install-recommends dovecot-imapd >"$LAB_TMP/apt.log" 2>&1 ||
		{ DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 update &&
			DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300 install \
				--no-install-recommends dovecot-imapd; } >>"$LAB_TMP/apt.log" 2>&1
	lab_remove_policy_rc
	[ -x /usr/sbin/dovecot ] || lab_skip "dovecot-imapd is not installed and could not be"
}

# run NAME ARGS...: the client in the client namespace; stdout NAME.out,
# stderr NAME.err; sets RC.
run() {
	local name=$1 pid
	shift
	MH_LAB_PW=$SECRET timeout 60 ip netns exec "$CNS" "$CLIENT" -t 10000 "$@" \
		</dev/null >"$LAB_TMP/$name.out" 2>"$LAB_TMP/$name.err" &
	pid=$!
	LAB_PIDS+=("$pid")
	wait "$pid"
	RC=$?
	echo "lab: $name: mh-collect-client $* -> exit $RC"
}

# expect_ok NAME: exit 0; expect_err NAME PATTERN: exit 2 and one line
# matching PATTERN (grep -E) on stderr.
expect_ok() {
	if [ "$RC" != 0 ]; then
		fail "$1: exit $RC, 0 expected: $(head -c 400 "$LAB_TMP/$1.err")"
		return 1
	fi
	return 0
}
expect_err() {
	local name=$1 pat=$2 lines
	lines=$(wc -l <"$LAB_TMP/$name.err")
	if [ "$RC" != 2 ]; then
		fail "$name: exit $RC, 2 expected"
	elif [ "$lines" != 1 ]; then
		fail "$name: $lines lines on stderr, one expected: $(head -c 600 "$LAB_TMP/$name.err")"
	elif ! grep -qE -- "$pat" "$LAB_TMP/$name.err"; then
		fail "$name: stderr does not match /$pat/: $(cat "$LAB_TMP/$name.err")"
	else
		echo "      $(cat "$LAB_TMP/$name.err")"
	fi
}
# the message lines "UID SUBJECT" of NAME.out, in order
msgs() { awk '$1 == "msg" { print $3, $5 }' "$LAB_TMP/$1.out" | tr '\n' ' '; }

lab_body() {
	lab_init
	install_dovecot

	CNS=mhl-$LAB_ID-c
	DNS=mhl-$LAB_ID-d
	lab_netns_add "$CNS"
	lab_netns_add "$DNS"
	lab_veth "$CNS" "mhl${LAB_ID}c" "$DNS" "mhl${LAB_ID}d"
	ip -n "$CNS" addr add "$CLI/30" dev "mhl${LAB_ID}c" || lab_die "client address failed"
	ip -n "$DNS" addr add "$SRV/30" dev "mhl${LAB_ID}d" || lab_die "server address failed"
	lab_netns_hosts "$CNS" "$SRV imap.lab.test"
	lab_netns_hosts "$DNS" "$SRV imap.lab.test"

	local D=$LAB_TMP/dovecot
	local MD=$D/Maildir
	mkdir -p "$D/run" "$D/state" "$D/home" "$MD/new" "$MD/cur" "$MD/tmp" ||
		lab_die "mkdir failed"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=imap.lab.test -addext subjectAltName=DNS:imap.lab.test \
		-keyout "$D/key.pem" -out "$D/cert.pem" >"$LAB_TMP/openssl.log" 2>&1 ||
		lab_die "openssl req failed: $(cat "$LAB_TMP/openssl.log")"
	chmod 600 "$D/key.pem"
	printf 'audit:{PLAIN}%s::::::\n' "$SECRET" >"$D/passwd"
	chown root:dovecot "$D/passwd" && chmod 640 "$D/passwd"

	# three messages, mtimes and names in order
	local i t
	for i in 1 2 3; do
		t=$((1765000000 + i * 60))
		printf 'Return-Path: <audit+tag%s@lab.test>\nFrom: probe@lab.test\nTo: audit@lab.test\nSubject: probe-%s\nMessage-ID: <tag%s@lab.test>\n\nbody %s\n' \
			"$i" "$i" "$i" "$i" >"$MD/new/$t.M${i}P1.imap.lab.test"
		touch -d "@$t" "$MD/new/$t.M${i}P1.imap.lab.test"
	done
	chown -R nobody:nogroup "$MD"
	chmod -R go-rwx "$MD"

	cat >"$D/dovecot.conf" <<EOF
# mailhole lab $LAB_ID: the collector mailbox
base_dir = $D/run
state_dir = $D/state
instance_name = mhl-$LAB_ID
log_path = $D/dovecot.log
protocols = imap
listen = $SRV
ssl = yes
ssl_cert = <$D/cert.pem
ssl_key = <$D/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$D/home
}
mail_location = maildir:$MD
first_valid_uid = 100
service imap-login {
  inet_listener imap {
    address = $SRV
    port = 143
  }
  inet_listener imaps {
    address = $SRV
    port = 993
    ssl = yes
  }
}
EOF
	lab_spawn "$DNS" "$D/run/master.pid" "$D/start.log" /usr/sbin/dovecot -F -c "$D/dovecot.conf"
	for ((i = 0; i < 100; i++)); do
		ip netns exec "$DNS" ss -Hltn "sport = :143" 2>/dev/null | grep -q "$SRV:143" &&
			ip netns exec "$DNS" ss -Hltn "sport = :993" 2>/dev/null | grep -q "$SRV:993" &&
			break
		sleep 0.1
	done
	[ "$i" -lt 100 ] || { cat "$D/start.log" "$D/dovecot.log" >&2; lab_die "dovecot does not listen"; }

	local PWF=$LAB_TMP/collector.pass
	printf '%s\n' "$SECRET" >"$PWF"
	chmod 600 "$PWF"
	local URL=imap://imap.lab.test/INBOX

	# ---- 1: everything, password from a file -----------------------------------
	run list1 -u audit -p "$PWF" "$URL"
	if expect_ok list1; then
		[ "$(msgs list1)" = "1 probe-1 2 probe-2 3 probe-3 " ] ||
			fail "list1: UIDs 1..3 with subjects probe-1..3 in order expected, got: $(msgs list1)"
		grep -qx 'count 3' "$LAB_TMP/list1.out" || fail "list1: count 3 expected"
		grep -qx 'skipped 0' "$LAB_TMP/list1.out" || fail "list1: skipped 0 expected"
		local v want
		v=$(awk '$1 == "uidvalidity" { print $2 }' "$LAB_TMP/list1.out")
		want=$(head -n 1 "$MD/dovecot-uidlist" 2>/dev/null | tr ' ' '\n' | sed -n 's/^V//p')
		[ -n "$want" ] && [ "$v" = "$want" ] ||
			fail "list1: uidvalidity $v, Dovecot's dovecot-uidlist says '$want'"
		# keys are the UIDs, lengths the message sizes
		awk '$1 == "msg" && $2 != $3 { exit 1 }' "$LAB_TMP/list1.out" ||
			fail "list1: key != uid"
		local sz
		sz=$(awk '$1 == "msg" && $3 == 1 { print $4 }' "$LAB_TMP/list1.out")
		[ "$sz" -gt 100 ] 2>/dev/null || fail "list1: UID 1 length $sz"
	fi

	# ---- 2: after_uid ------------------------------------------------------------
	run after2 -u audit -e MH_LAB_PW -a 2 "$URL"
	expect_ok after2 && { [ "$(msgs after2)" = "3 probe-3 " ] ||
		fail "after2: only UID 3 expected, got: $(msgs after2)"; }
	local a
	for a in 3 10; do
		run "after$a" -u audit -e MH_LAB_PW -a "$a" "$URL"
		expect_ok "after$a" && { grep -qx 'count 0' "$LAB_TMP/after$a.out" ||
			fail "after$a: nothing expected (the highest UID filtered), got: $(msgs "after$a")"; }
	done

	# ---- 3: delete UID 2, expunged at close; then UID 3 with an explicit expunge --
	run del2 -u audit -e MH_LAB_PW -d 2 "$URL"
	expect_ok del2 && { grep -qx 'deleted 2' "$LAB_TMP/del2.out" || fail "del2: no 'deleted 2'"; }
	run list2 -u audit -e MH_LAB_PW "$URL"
	expect_ok list2 && { [ "$(msgs list2)" = "1 probe-1 3 probe-3 " ] ||
		fail "list2: UIDs 1 and 3 expected after deleting 2, got: $(msgs list2)"; }
	if grep -rlq 'Subject: probe-2' "$MD/new" "$MD/cur" 2>/dev/null; then
		fail "del2: the message of UID 2 is still in the Maildir"
	fi
	run del3 -u audit -e MH_LAB_PW -a 2 -d 3 -x "$URL"
	expect_ok del3 && { grep -qx 'expunged' "$LAB_TMP/del3.out" || fail "del3: no 'expunged'"; }
	run list3 -u audit -e MH_LAB_PW "$URL"
	expect_ok list3 && { [ "$(msgs list3)" = "1 probe-1 " ] ||
		fail "list3: UID 1 only expected, got: $(msgs list3)"; }

	# ---- 3b: a message over MH_MAIL_MAX: skipped before download, counted --------
	# (sparse; S= and W= in the name give Dovecot the sizes without reading it)
	local huge="$MD/new/1765000900.M9P1.imap.lab.test,S=67108865,W=67108865"
	truncate -s 67108865 "$huge" && chown nobody:nogroup "$huge" && chmod 600 "$huge"
	run big -u audit -e MH_LAB_PW "$URL"
	if expect_ok big; then
		[ "$(msgs big)" = "1 probe-1 " ] || fail "big: UID 1 only expected, got: $(msgs big)"
		grep -qx 'skipped 1' "$LAB_TMP/big.out" || fail "big: skipped 1 expected"
		grep -q 'UID 4: 67108865 bytes, larger than 67108864: skipped' "$LAB_TMP/big.err" ||
			fail "big: no warning about UID 4: $(cat "$LAB_TMP/big.err")"
	fi
	rm -f "$MD"/new/1765000900.* "$MD"/cur/1765000900.*

	# ---- 4: imaps ------------------------------------------------------------------
	run tls1 -u audit -e MH_LAB_PW -k imaps://imap.lab.test/INBOX
	expect_ok tls1 && { [ "$(msgs tls1)" = "1 probe-1 " ] ||
		fail "tls1: UID 1 expected over imaps, got: $(msgs tls1)"; }
	run tls2 -u audit -e MH_LAB_PW imaps://imap.lab.test/INBOX
	expect_err tls2 '^error: imaps://imap\.lab\.test/INBOX: TLS failed: .*(certificate|self.signed)'

	run stls1 -u audit -e MH_LAB_PW -s -k "$URL"
	expect_ok stls1 && { [ "$(msgs stls1)" = "1 probe-1 " ] ||
		fail "stls1: UID 1 expected over STARTTLS, got: $(msgs stls1)"; }
	run stls2 -u audit -e MH_LAB_PW -s "$URL"
	expect_err stls2 '^error: imap://imap\.lab\.test/INBOX: TLS failed: .*(certificate|self.signed)'

	# ---- 5: errors -------------------------------------------------------------------
	local BADPW=$LAB_TMP/bad.pass
	printf 'wrong-%s\n' "$$" >"$BADPW"
	chmod 600 "$BADPW"
	run badpw -u audit -p "$BADPW" "$URL"
	expect_err badpw '^error: imap://imap\.lab\.test/INBOX: login as "audit" failed: .*AUTHENTICATIONFAILED'
	run badport -u audit -e MH_LAB_PW imap://imap.lab.test:144/INBOX
	expect_err badport '^error: imap://imap\.lab\.test:144/INBOX: cannot connect: '
	run nobox -u audit -e MH_LAB_PW imap://imap.lab.test/NoSuchBox
	expect_err nobox '^error: imap://imap\.lab\.test/NoSuchBox: cannot open mailbox "NoSuchBox": the server answered "NO Mailbox doesn.t exist'
	run urlpw -u audit -e MH_LAB_PW "imap://audit:$SECRET@imap.lab.test/INBOX"
	expect_err urlpw '^error: imap://\*\*\*@imap\.lab\.test/INBOX: bad URL: credentials in the URL are refused'
	chmod 644 "$PWF"
	run pwmode -u audit -p "$PWF" "$URL"
	expect_err pwmode "^error: $PWF: readable by everyone"

	# ---- 6: UIDVALIDITY changes between the open and the listing ----------------
	MH_LAB_PW=$SECRET timeout 60 ip netns exec "$CNS" "$CLIENT" -t 10000 -u audit -e MH_LAB_PW \
		-w 3000 "$URL" </dev/null >"$LAB_TMP/renum.out" 2>"$LAB_TMP/renum.err" &
	local rpid=$!
	LAB_PIDS+=("$rpid")
	for ((i = 0; i < 50; i++)); do
		grep -q '^uidvalidity' "$LAB_TMP/renum.out" && break
		sleep 0.1
	done
	ip netns exec "$DNS" doveadm -c "$D/dovecot.conf" mailbox update -u audit \
		--uid-validity 4242 INBOX >"$LAB_TMP/doveadm.log" 2>&1 ||
		fail "doveadm mailbox update failed: $(cat "$LAB_TMP/doveadm.log")"
	wait "$rpid"
	RC=$?
	echo "lab: renum: UIDVALIDITY changed under the client -> exit $RC"
	# (Dovecot says BYE to the old session; the new one sees the new UIDVALIDITY)
	expect_err renum '^error: imap://imap\.lab\.test/INBOX: UIDVALIDITY changed \(was [0-9]+\)'
	grep -q '^msg' "$LAB_TMP/renum.out" && fail "renum: messages handed over after the renumbering"
	run renum2 -u audit -e MH_LAB_PW "$URL"
	expect_ok renum2 && { grep -qx 'uidvalidity 4242' "$LAB_TMP/renum2.out" ||
		fail "renum2: uidvalidity 4242 expected: $(head -n 1 "$LAB_TMP/renum2.out")"; }

	# ---- 7: the last message deleted: an empty mailbox lists nothing, no error ----
	local last
	last=$(awk '$1 == "msg" { print $3 }' "$LAB_TMP/renum2.out" | tail -n 1)
	if [ -n "$last" ]; then
		run delall -u audit -e MH_LAB_PW -d "$last" -x "$URL"
		expect_ok delall
		run empty -u audit -e MH_LAB_PW "$URL"
		expect_ok empty && { grep -qx 'count 0' "$LAB_TMP/empty.out" ||
			fail "empty: count 0 expected: $(cat "$LAB_TMP/empty.out")"; }
	else
		fail "renum2: no message left to delete"
	fi

	# the password never in anything the client printed
	if grep -rlF -- "$SECRET" "$LAB_TMP"/*.out "$LAB_TMP"/*.err >/dev/null 2>&1; then
		fail "the password appears in: $(grep -rlF -- "$SECRET" "$LAB_TMP"/*.out "$LAB_TMP"/*.err | tr '\n' ' ')"
	fi

	[ "$FAILS" = 0 ] || { tail -n 20 "$D/dovecot.log"; exit 1; }
	exit 0
}

lab_run_isolated
rc=$?
case $rc in
0) echo "PASS: lab_collect" ;;
77) ;;
*) echo "lab_collect: FAILED (exit $rc)" ;;
esac
exit "$rc"
