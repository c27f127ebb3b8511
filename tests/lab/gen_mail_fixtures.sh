#!/bin/bash
# gen_mail_fixtures.sh [OUTDIR] -- makes the mail fixtures of tests/fixtures/mail/
# with real MTAs: the DSNs and messages that come back to the collector
# mailbox of `mailhole probe`, as Postfix really writes them.
#
# Not a ctest lab (not named lab_*.sh): run it by hand, as root, when the
# fixtures need to be made again, then review and commit what it wrote:
#
#   sudo tests/lab/gen_mail_fixtures.sh                 # writes tests/fixtures/mail/
#   sudo tests/lab/gen_mail_fixtures.sh /tmp/newmail    # or elsewhere, to compare
#
# It takes about two minutes (it waits for a delay notice, then for the
# queue lifetime to expire). The file names are stable; the contents are
# not (dates, queue IDs), so tests/fixtures/mail/EXPECTED only holds what
# does not change between runs (kind, tag, action/status, sender class).
#
# The lab (network namespaces, 198.18.64.0/24, nothing outside them):
#   R  relay.lab.test      Postfix with DSN, short retry times
#                          (minimal_backoff_time 5s, delay_warning_time 10s,
#                          maximal_queue_lifetime 50s, a bounce_template_file
#                          whose delay notice says seconds, not "0 hours"),
#                          the collector: audit@lab.test in a virtual Maildir
#                          (recipient_delimiter +, so audit+TAG@ lands there)
#        198.18.64.1  -- D  down.lab.test 198.18.64.2: nothing listens
#                          (connection refused)
#        198.18.64.17 -- B  mx-b.lab.test 198.18.64.18: Postfix, virtual
#                          mailboxes, unknown users refused with 550 5.1.1;
#                          mx-c.lab.test 198.18.64.19: the same Postfix,
#                          whose smtpd there does not announce DSN
#        198.18.64.33 -- A  host-a.lab.test 198.18.64.34: Postfix client,
#                          relayhost the relay, no masquerading
#        198.18.64.49 -- M  host-m.lab.test 198.18.64.50: Postfix client,
#                          masquerade_domains = lab.test
# Probes (tag in the envelope sender audit+TAG@lab.test, X-Mailhole-Tag,
# Message-ID <TAG@mailhole.invalid>, ENVID TAG), submitted on R with
# Postfix's sendmail -N ... -V TAG:
#   mhpfrefused01  root@down.lab.test       -> delay notice, then failure
#   mhpfreject001  nosuchuser@mx-b.lab.test -> failure 5.1.1 (RET=HDRS)
#   mhpfdeliver01  postmaster@mx-b.lab.test, NOTIFY=SUCCESS -> "delivered"
#                  DSN from mx-b
#   mhpfrelayed01  postmaster@mx-c.lab.test, NOTIFY=SUCCESS -> "relayed"
#                  DSN from the relay (the next hop has no DSN)
#   mhpfhosta0001  on host-a: bare sender "mary" to audit@lab.test
#                  -> arrives host-qualified (mary@host-a.lab.test)
#   mhpfhostm0001  on host-m: the same -> arrives masqueraded (mary@lab.test)
#
# Then it derives from those real files (no MTA needed; also alone with
# `gen_mail_fixtures.sh --derive [OUTDIR]`):
#   derived-*.eml   well-formed variants: CRLF line ends, an mbox "From "
#                   line, a non-standard bounce (the failure DSN flattened to
#                   its text part, as a gateway forwards it: no report, no
#                   ENVID, only the VERP recipient and the text)
#   broken/*.eml    damaged ones (truncated MIME, missing or wrong boundary,
#                   8-bit junk, a huge header, NULs, binary, empty)
# Their expected outcomes are in EXPECTED and broken/EXPECTED (hand-checked).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
DERIVE_ONLY=0
if [ "${1:-}" = --derive ]; then
	DERIVE_ONLY=1
	shift
fi
OUT=${1:-$HERE/../fixtures/mail}
mkdir -p "$OUT" || exit 2
OUT=$(cd "$OUT" && pwd)

# derive: the variants of the real files (see the top of this file).
derive() {
	local o=$OUT b=$OUT/broken
	mkdir -p "$b"
	[ -r "$o/postfix-reject-failed.eml" ] && [ -r "$o/postfix-refused-failed.eml" ] || {
		echo "derive: the postfix-*.eml files are missing in $o" >&2
		return 1
	}
	# well-formed variants
	sed 's/$/\r/' "$o/postfix-reject-failed.eml" >"$o/derived-reject-failed-crlf.eml"
	{
		printf 'From MAILER-DAEMON  Tue Dec  8 04:19:53 2026\n'
		cat "$o/postfix-success-delivered.eml"
	} >"$o/derived-success-delivered-mbox.eml"
	# the non-standard bounce: the top headers without MIME, then the
	# failure DSN's first (text) part
	{
		sed -n '1,/^$/p' "$o/postfix-refused-failed.eml" |
			awk '/^[^ \t]/ { keep = ($0 !~ /^(MIME-Version|Content-Type|Content-Transfer-Encoding):/) } keep' |
			sed '/^$/d'
		printf 'Content-Type: text/plain; charset=utf-8\n\n'
		awk 'BEGIN { n = 0 } /^--/ { n++; next } n == 1' "$o/postfix-refused-failed.eml" |
			sed '1,/^$/d'
	} >"$o/derived-bounce-nonstandard.eml"
	# damaged ones
	head -n 52 "$o/postfix-reject-failed.eml" >"$b/truncated-mime.eml"
	sed '/^\tboundary=/d' "$o/postfix-reject-failed.eml" >"$b/missing-boundary.eml"
	sed 's/^\tboundary="[^"]*"/\tboundary="no-such-boundary"/' "$o/postfix-reject-failed.eml" \
		>"$b/wrong-boundary.eml"
	sed -e 's/^Subject: \(.*\)$/Subject: \1 \xff\xfe\xc3\x28 junk/' \
		-e 's/^Reporting-MTA: .*$/&\nX-Junk: \x80\x81\x82\xe9t\xe9/' \
		-e 's/^Remote-MTA: .*$/&\n\xe9\xe8\xff not a field/' \
		"$o/postfix-reject-failed.eml" >"$b/junk-8bit.eml"
	{
		head -n 3 "$o/postfix-reject-failed.eml"
		printf 'X-Huge: start\n'
		yes '	0123456789012345678901234567890123456789012345678901234567890123456789' |
			head -n 16000
		tail -n +4 "$o/postfix-reject-failed.eml"
	} >"$b/huge-header.eml"
	sed 's/^X-Original-To: .*$/X-Original-To: audit\x00@lab.test/' "$o/postfix-reject-failed.eml" \
		>"$b/nul-header.eml"
	head -c 3000 /dev/zero | tr '\0' '\1' | sed 's/^/\x00\x7fELF/' >"$b/binary.eml"
	: >"$b/empty.eml"
	printf '\n\nbody only, no header section\n' >"$b/no-headers.eml"
	head -n 8 "$o/postfix-refused-delayed.eml" >"$b/headers-only.eml"
	chmod 644 "$o"/derived-*.eml "$b"/*.eml
}

if [ "$DERIVE_ONLY" = 1 ]; then
	derive
	exit $?
fi
# shellcheck source=lib.sh
. "$HERE/lib.sh"

lab_require_root

LAB_LEDGER=$(mktemp "/tmp/mhl-ledger-$LAB_ID.XXXXXX") || lab_die "mktemp failed"
export LAB_LEDGER

NS_R="mhl-$LAB_ID-r"
NS_D="mhl-$LAB_ID-d"
NS_B="mhl-$LAB_ID-b"
NS_A="mhl-$LAB_ID-a"
NS_M="mhl-$LAB_ID-m"

HOSTS=(
	"198.18.64.1 relay.lab.test lab.test"
	"198.18.64.2 down.lab.test"
	"198.18.64.18 mx-b.lab.test"
	"198.18.64.19 mx-c.lab.test"
	"198.18.64.34 host-a.lab.test"
	"198.18.64.50 host-m.lab.test"
)

# pf NS DIR ARGS...: a Postfix command for the instance in DIR, inside NS.
pf() {
	local ns=$1 dir=$2
	shift 2
	timeout 30 ip netns exec "$ns" env MAIL_CONFIG="$dir" "$@"
}

# A probe message on stdin of sendmail: TAG FROM TO SUBJECT
probe_msg() {
	local tag=$1 from=$2 to=$3 subject=$4
	printf 'From: %s\n' "$from"
	printf 'To: %s\n' "$to"
	printf 'Subject: %s\n' "$subject"
	printf 'Date: %s\n' "$(LC_ALL=C date -R)"
	printf 'Message-ID: <%s@mailhole.invalid>\n' "$tag"
	printf 'X-Mailhole-Tag: %s\n' "$tag"
	printf 'X-Mailhole-Probe: kind=fixture;\n\trcpt=%s\n' "$to"
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	printf 'mailhole probe %s.\nThis message proves where mail to %s goes.\n' "$tag" "$to"
	printf 'Caf\xc3\xa9 cr\xc3\xa8me: 8-bit UTF-8 in the body.\n'
}

add_master_line() { # DIR LINE...
	local dir=$1
	shift
	printf '%s\n' "$@" >>"$dir/master.cf"
}

lab_body() {
	lab_init
	lab_install_postfix
	local ns
	for ns in "$NS_R" "$NS_D" "$NS_B" "$NS_A" "$NS_M"; do
		lab_netns_add "$ns"
		lab_netns_hosts "$ns" "${HOSTS[@]}"
	done
	lab_veth "$NS_R" mhl${LAB_ID}r1 "$NS_D" mhl${LAB_ID}d1
	lab_veth "$NS_R" mhl${LAB_ID}r2 "$NS_B" mhl${LAB_ID}b1
	lab_veth "$NS_R" mhl${LAB_ID}r3 "$NS_A" mhl${LAB_ID}a1
	lab_veth "$NS_R" mhl${LAB_ID}r4 "$NS_M" mhl${LAB_ID}m1
	ip -n "$NS_R" addr add 198.18.64.1/28 dev mhl${LAB_ID}r1
	ip -n "$NS_D" addr add 198.18.64.2/28 dev mhl${LAB_ID}d1
	ip -n "$NS_R" addr add 198.18.64.17/28 dev mhl${LAB_ID}r2
	ip -n "$NS_B" addr add 198.18.64.18/28 dev mhl${LAB_ID}b1
	ip -n "$NS_B" addr add 198.18.64.19/28 dev mhl${LAB_ID}b1
	ip -n "$NS_R" addr add 198.18.64.33/28 dev mhl${LAB_ID}r3
	ip -n "$NS_A" addr add 198.18.64.34/28 dev mhl${LAB_ID}a1
	ip -n "$NS_R" addr add 198.18.64.49/28 dev mhl${LAB_ID}r4
	ip -n "$NS_M" addr add 198.18.64.50/28 dev mhl${LAB_ID}m1
	sleep 1

	local mail=$LAB_TMP/mail
	mkdir -p "$mail/r" "$mail/b"
	chown -R 65534:65534 "$mail"

	# The relay and collector.
	local R=$LAB_TMP/relay
	mkdir -p "$R"
	cat >"$R/bounce.cf" <<'TEMPLATE'
delay_template = <<EOF
Charset: us-ascii
From: MAILER-DAEMON (Mail Delivery System)
Subject: Delayed Mail (still being retried)
Postmaster-Subject: Postmaster Warning: Delayed Mail

This is the mail system at host $myhostname.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than $delay_warning_time_seconds second(s).
It will be retried until it is $maximal_queue_lifetime_seconds second(s) old.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system
EOF
TEMPLATE
	printf 'audit@lab.test audit/Maildir/\n' >"$R/vmailbox"
	lab_postfix_instance "$NS_R" "$R" relay.lab.test "127.0.0.1, 198.18.64.1, 198.18.64.17, 198.18.64.33, 198.18.64.49" \
		"mynetworks = 127.0.0.0/8, 198.18.64.0/24
mydestination = relay.lab.test, localhost
virtual_mailbox_domains = lab.test
virtual_mailbox_base = $mail/r
virtual_mailbox_maps = texthash:$R/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
recipient_delimiter = +
delay_warning_time = 10s
maximal_queue_lifetime = 50s
bounce_queue_lifetime = 50s
bounce_template_file = $R/bounce.cf
smtp_connect_timeout = 5s"
	add_master_line "$R" 'virtual   unix  -       n       n       -       -       virtual'
	pf "$NS_R" "$R" postfix -c "$R" reload >>"$R/start.log" 2>&1 || {
		cat "$R/start.log" >&2
		lab_die "relay reload failed"
	}

	# mx-b / mx-c: one Postfix, two addresses; mx-c does not announce DSN.
	local B=$LAB_TMP/mxb
	mkdir -p "$B"
	printf 'postmaster@mx-b.lab.test box/Maildir/\npostmaster@mx-c.lab.test box/Maildir/\n' >"$B/vmailbox"
	lab_postfix_instance "$NS_B" "$B" mx-b.lab.test "198.18.64.18, 198.18.64.19" \
		"mynetworks = 127.0.0.0/8
mydestination =
relayhost = [198.18.64.17]
virtual_mailbox_domains = mx-b.lab.test, mx-c.lab.test
virtual_mailbox_base = $mail/b
virtual_mailbox_maps = texthash:$B/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534"
	sed -i 's/^smtp      inet.*$/198.18.64.18:smtp inet n - n - - smtpd\n198.18.64.19:smtp inet n - n - - smtpd -o smtpd_discard_ehlo_keywords=dsn -o myhostname=mx-c.lab.test/' "$B/master.cf"
	add_master_line "$B" 'virtual   unix  -       n       n       -       -       virtual'
	pf "$NS_B" "$B" postfix -c "$B" reload >>"$B/start.log" 2>&1 || lab_die "mx-b reload failed"

	# The two clients: no listener needed beyond loopback.
	local A=$LAB_TMP/hosta M=$LAB_TMP/hostm
	lab_postfix_instance "$NS_A" "$A" host-a.lab.test "127.0.0.1" \
		"relayhost = [198.18.64.33]"
	lab_postfix_instance "$NS_M" "$M" host-m.lab.test "127.0.0.1" \
		"relayhost = [198.18.64.49]
masquerade_domains = lab.test"
	sleep 2

	local col=audit@lab.test
	send_r() { # TAG RCPT NOTIFY RET SUBJECT
		probe_msg "$1" "Mailhole audit <audit+$1@lab.test>" "$2" "$5" |
			pf "$NS_R" "$R" /usr/sbin/sendmail -i -f "audit+$1@lab.test" -N "$3" -V "$1" \
				-R "$4" "$2" || lab_die "sendmail on the relay failed for $1"
	}
	send_r mhpfrefused01 root@down.lab.test failure,delay full \
		'mailhole probe mhpfrefused01: =?UTF-8?B?Y2Fmw6k=?= black hole'
	send_r mhpfreject001 nosuchuser@mx-b.lab.test failure,delay hdrs \
		'mailhole probe mhpfreject001 (reject)'
	send_r mhpfdeliver01 postmaster@mx-b.lab.test success,failure,delay hdrs \
		'mailhole probe mhpfdeliver01 (delivered)'
	send_r mhpfrelayed01 postmaster@mx-c.lab.test success,failure,delay full \
		'mailhole probe mhpfrelayed01 (relayed)'
	probe_msg mhpfhosta0001 mary $col 'mailhole host-submission mhpfhosta0001' |
		pf "$NS_A" "$A" /usr/sbin/sendmail -i -f mary -N never $col ||
		lab_die "sendmail on host-a failed"
	probe_msg mhpfhostm0001 mary $col 'mailhole host-submission mhpfhostm0001' |
		pf "$NS_M" "$M" /usr/sbin/sendmail -i -f mary -N never $col ||
		lab_die "sendmail on host-m failed"

	# Wait for: 2 messages, reject failure, delivered, relayed, delay, failure = 7.
	local box=$mail/r/audit/Maildir/new n=0 i
	for ((i = 0; i < 120; i++)); do
		n=$(find "$box" -type f 2>/dev/null | wc -l)
		[ "$n" -ge 7 ] && break
		sleep 1
	done
	lab_log "collector holds $n messages after $i s"
	[ "$n" -ge 7 ] || {
		tail -n 40 "$R/maillog" >&2
		lab_die "expected 7 messages in the collector"
	}

	# Name each by what it is: postfix-TAGROLE-ACTION.eml
	local f tag act name
	for f in "$box"/*; do
		tag=$(grep -o -m1 -E 'mhpf[a-z0-9]{8,40}' "$f" | head -n 1)
		act=$(grep -m1 -i '^Action:' "$f" | awk '{print tolower($2)}')
		case $tag in
		mhpfrefused01) name=refused ;; mhpfreject001) name=reject ;;
		mhpfdeliver01) name=success ;; mhpfrelayed01) name=success-nodsn ;;
		mhpfhosta0001) name=arrived-host-qualified ;; mhpfhostm0001) name=arrived-masqueraded ;;
		*) name=unknown-$(basename "$f") ;;
		esac
		[ -n "$act" ] && name=$name-$act
		cp "$f" "$OUT/postfix-$name.eml"
		lab_log "postfix-$name.eml"
	done
	chmod 644 "$OUT"/postfix-*.eml
}

lab_run_isolated
rc=$?
[ "$rc" = 0 ] && { derive || rc=1; }
exit "$rc"
