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
# does not change between runs (kind, tag, action/status, sender class);
# tests/unit/test_mail.c also pins a few values of some files (dates, queue
# IDs): update those when the files are made again.
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
#        198.18.64.65 -- X  mx-x.lab.test 198.18.64.66: Exim 4.96 (Debian's
#                          exim4-daemon-light, apt-get download + dpkg -x into
#                          /var/cache/mailhole-lab/exim: it conflicts with
#                          postfix), DSN advertised, delay_warning 10s, retry
#                          F,40s,10s; unknown local users accepted, then failed
#                          by a router (so Exim writes the bounce)
#           198.18.64.81 -- XD  down-x.lab.test 198.18.64.82: nothing listens
#                          (skipped, with a message, when Exim cannot be had)
#        198.18.64.97 -- S  mx-s.lab.test 198.18.64.98: Sendmail 8.17 (Debian's
#                          sendmail-bin, downloaded and unpacked the same way
#                          into /var/cache/mailhole-lab/sendmail-gen, .cf made
#                          with m4), in its own UTS namespace, DSN,
#                          Timeout.queuewarn 10s, Timeout.queuereturn 40s
#           198.18.64.113 -- SD  down-s.lab.test 198.18.64.114: nothing listens
#                          (skipped, with a message, without m4 or the package)
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
#   mhexrefused01  root@down-x.lab.test via Exim -> Exim's delay warning,
#                  then its failure
#   mhexnouser001  nosuchuser@mx-x.lab.test -> Exim's failure (RET=HDRS)
#   mhexdeliver01  postmaster@mx-x.lab.test, NOTIFY=SUCCESS -> Exim's
#                  "delivered" DSN
#   mhsmrefused01  root@down-s.lab.test via Sendmail -> Sendmail's delay
#                  warning, then its failure
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
	"198.18.64.66 mx-x.lab.test down-x.lab.test"
	"198.18.64.98 mx-s.lab.test down-s.lab.test"
)
NS_S="mhl-$LAB_ID-s"
NS_SD="mhl-$LAB_ID-sd"
SM_CACHE=${SM_CACHE:-/var/cache/mailhole-lab/sendmail-gen}
SM_OK=0

# sm_fetch: Debian's Sendmail 8.17 unpacked (sendmail-bin conflicts with
# postfix): apt-get download + dpkg -x into $SM_CACHE/root. 1 if impossible.
sm_fetch() {
	local root=$SM_CACHE/root d
	command -v m4 >/dev/null 2>&1 || return 1
	[ -x "$root/usr/libexec/sendmail/sendmail" ] && [ -r "$root/usr/share/sendmail/cf/m4/cf.m4" ] &&
		return 0
	mkdir -p "$SM_CACHE" || return 1
	(cd "$SM_CACHE" && apt-get -q download sendmail-bin sendmail-base sendmail-cf \
		>"$SM_CACHE/download.log" 2>&1) || return 1
	mkdir -p "$root"
	for d in "$SM_CACHE"/sendmail-*.deb; do dpkg -x "$d" "$root" || return 1; done
	[ -x "$root/usr/libexec/sendmail/sendmail" ]
}

# sm_setup: mx-s.lab.test (198.18.64.98), Sendmail with DSN, queue warning
# after 10 s and return after 40 s, reached from the relay; down-s.lab.test
# is 198.18.64.114 (namespace SD) where nothing listens. Its own UTS
# namespace (it looks its host name up at start), its own hosts file.
sm_setup() {
	local D=$LAB_TMP/sm root=$SM_CACHE/root
	sm_fetch || { lab_log "Sendmail not available (no m4 or apt-get download failed): no Sendmail fixtures"; return 1; }
	lab_netns_add "$NS_S"
	lab_netns_add "$NS_SD"
	lab_netns_hosts "$NS_S" "198.18.64.17 relay.lab.test lab.test" "198.18.64.97 relay-s.lab.test" \
		"198.18.64.98 mx-s.lab.test" \
		"198.18.64.114 down-s.lab.test"
	lab_veth "$NS_R" mhl${LAB_ID}r6 "$NS_S" mhl${LAB_ID}s1
	lab_veth "$NS_S" mhl${LAB_ID}s2 "$NS_SD" mhl${LAB_ID}t1
	ip -n "$NS_R" addr add 198.18.64.97/28 dev mhl${LAB_ID}r6
	ip -n "$NS_S" addr add 198.18.64.98/28 dev mhl${LAB_ID}s1
	ip -n "$NS_S" addr add 198.18.64.113/28 dev mhl${LAB_ID}s2
	ip -n "$NS_SD" addr add 198.18.64.114/28 dev mhl${LAB_ID}t1
	ip -n "$NS_S" route add 198.18.64.16/28 via 198.18.64.97
	mkdir -p "$D/mqueue" && chmod 700 "$D/mqueue"
	printf 'hosts files\naliases files\n' >"$D/service.switch"
	printf 'postmaster: root\n' >"$D/aliases"
	cat >"$D/mx-s.mc" <<EOF
divert(-1)dnl
# mailhole lab: Sendmail 8.17 as mx-s.lab.test, DSN, seconds instead of days
divert(0)dnl
VERSIONID(\`mailhole gen_mail_fixtures mx-s')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`mx-s.lab.test')dnl
define(\`QUEUE_DIR', \`$D/mqueue')dnl
define(\`STATUS_FILE', \`$D/statistics')dnl
define(\`confPID_FILE', \`$D/sendmail.pid')dnl
define(\`ALIAS_FILE', \`$D/aliases')dnl
define(\`confSERVICE_SWITCH_FILE', \`$D/service.switch')dnl
define(\`confTO_QUEUEWARN', \`10s')dnl
define(\`confTO_QUEUERETURN', \`40s')dnl
define(\`confMIN_QUEUE_AGE', \`0s')dnl
define(\`confDEF_USER_ID', \`65534:65534')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`nocanonify')dnl
dnl the lab's own relay is its only client: it may relay anywhere (namespaces only)
FEATURE(\`promiscuous_relay')dnl
DAEMON_OPTIONS(\`Family=inet, Name=MTA-v4, Port=smtp, Addr=198.18.64.98')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
EOF
	m4 -D_CF_DIR_="$root/usr/share/sendmail/cf/" "$root/usr/share/sendmail/cf/m4/cf.m4" \
		"$D/mx-s.mc" >"$D/sendmail.cf" 2>"$D/m4.log" || {
		cat "$D/m4.log" >&2
		lab_log "m4 failed: no Sendmail fixtures"
		return 1
	}
	lab_spawn "$NS_S" "$D/sendmail.pid" "$D/daemon.log" unshare --uts sh -c \
		"hostname mx-s.lab.test && exec $root/usr/libexec/sendmail/sendmail -C $D/sendmail.cf -bd -q5s"
	local i
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$NS_S" ss -Hltn 'sport = :25' 2>/dev/null | grep -q 198.18.64.98 && return 0
		sleep 0.1
	done
	cat "$D/daemon.log" >&2
	lab_log "Sendmail does not listen: no Sendmail fixtures"
	return 1
}
NS_X="mhl-$LAB_ID-x"
NS_XD="mhl-$LAB_ID-xd"
EXIM_CACHE=${EXIM_CACHE:-/var/cache/mailhole-lab/exim}
EXIM_OK=0

# exim_fetch: Debian's Exim 4.96 unpacked (it conflicts with postfix as a
# package): apt-get download + dpkg -x into $EXIM_CACHE/root; its one
# missing library (libidn12, no conflict) installed. 1 if impossible.
exim_fetch() {
	local root=$EXIM_CACHE/root
	if [ ! -e /usr/lib/x86_64-linux-gnu/libidn.so.12 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
			--no-install-recommends libidn12 >"$LAB_TMP/apt-libidn.log" 2>&1 || return 1
	fi
	[ -x "$root/usr/sbin/exim4" ] && return 0
	mkdir -p "$EXIM_CACHE" || return 1
	(cd "$EXIM_CACHE" && apt-get -q download exim4-daemon-light exim4-base exim4-config \
		>"$EXIM_CACHE/download.log" 2>&1) || return 1
	mkdir -p "$root" && local d
	for d in "$EXIM_CACHE"/*.deb; do dpkg -x "$d" "$root" || return 1; done
	[ -x "$root/usr/sbin/exim4" ]
}

# exim_setup: mx-x.lab.test (198.18.64.66), Exim with DSN, reached from the
# relay; down-x.lab.test routes to 198.18.64.82 (namespace XD) where
# nothing listens. The Exim binary wants its compiled-in user Debian-exim:
# the namespace gets a passwd / group of its own with that user (ip netns
# exec bind-mounts /etc/netns/NS/* over /etc).
exim_setup() {
	local X=$LAB_TMP/exim root=$EXIM_CACHE/root uid=64990
	exim_fetch || { lab_log "Exim not available (apt-get download failed): no Exim fixtures"; return 1; }
	lab_netns_add "$NS_X"
	lab_netns_add "$NS_XD"
	lab_netns_hosts "$NS_X" "${HOSTS[@]}"
	cp /etc/passwd "/etc/netns/$NS_X/passwd" && cp /etc/group "/etc/netns/$NS_X/group"
	echo "Debian-exim:x:$uid:$uid:mailhole lab exim:/nonexistent:/usr/sbin/nologin" >>"/etc/netns/$NS_X/passwd"
	echo "Debian-exim:x:$uid:" >>"/etc/netns/$NS_X/group"
	lab_veth "$NS_R" mhl${LAB_ID}r5 "$NS_X" mhl${LAB_ID}x1
	lab_veth "$NS_X" mhl${LAB_ID}x2 "$NS_XD" mhl${LAB_ID}y1
	ip -n "$NS_R" addr add 198.18.64.65/28 dev mhl${LAB_ID}r5
	ip -n "$NS_X" addr add 198.18.64.66/28 dev mhl${LAB_ID}x1
	ip -n "$NS_X" addr add 198.18.64.81/28 dev mhl${LAB_ID}x2
	ip -n "$NS_XD" addr add 198.18.64.82/28 dev mhl${LAB_ID}y1
	# the relay listens on 198.18.64.17: reached through its .65 end
	ip -n "$NS_X" route add 198.18.64.16/28 via 198.18.64.65
	mkdir -p "$X/spool" "$X/log" "$X/mail"
	chown -R $uid:$uid "$X/spool" "$X/log" "$X/mail"
	cat >"$X/exim.conf" <<EOF
# mailhole lab: Exim 4.96 as mx-x.lab.test, DSN on, seconds instead of hours
exim_path = $root/usr/sbin/exim4
keep_environment =
primary_hostname = mx-x.lab.test
qualify_domain = lab.test
domainlist local_domains = mx-x.lab.test
local_interfaces = 198.18.64.66
daemon_smtp_ports = 25
spool_directory = $X/spool
log_file_path = $X/log/%slog
pid_file_path = $X/exim.pid
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
dsn_advertise_hosts = *
delay_warning = 10s:1h
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  accept hosts = 198.18.64.0/24
  deny message = relay not permitted

begin routers
to_lab:
  driver = manualroute
  domains = lab.test
  route_list = * 198.18.64.17
  transport = remote_smtp
down_x:
  driver = manualroute
  domains = down-x.lab.test
  route_list = * 198.18.64.82
  transport = remote_smtp
postmaster:
  driver = accept
  domains = +local_domains
  local_parts = postmaster
  transport = maildir
no_such_user:
  driver = redirect
  domains = +local_domains
  allow_fail
  data = :fail: Unknown user

begin transports
remote_smtp:
  driver = smtp
maildir:
  driver = appendfile
  directory = $X/mail/postmaster/Maildir
  maildir_format
  create_directory
  user = Debian-exim

begin retry
*  *  F,40s,10s
EOF
	chmod 644 "$X/exim.conf"
	lab_spawn "$NS_X" "$X/exim.pid" "$X/daemon.log" \
		"$root/usr/sbin/exim4" -C "$X/exim.conf" -bdf -q5s -oP "$X/exim.pid"
	local i
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$NS_X" ss -Hltn 'sport = :25' 2>/dev/null | grep -q 198.18.64.66 && return 0
		sleep 0.1
	done
	cat "$X/daemon.log" "$X/log/"* >&2 2>/dev/null
	lab_log "Exim does not listen: no Exim fixtures"
	return 1
}

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

# pf_settle NS DIR [NAME=VALUE...]: sets parameters that lab_postfix_instance
# already defines with `postconf -e` (in place: appended duplicates make
# every Postfix process warn "overriding earlier entry", and that flood
# through postlogd's own socket can stall the whole instance), then reloads.
pf_settle() {
	local ns=$1 dir=$2
	shift 2
	if [ $# -gt 0 ]; then
		postconf -c "$dir" -e "$@" >>"$dir/start.log" 2>&1 || lab_die "postconf -e in $dir failed"
	fi
	pf "$ns" "$dir" postfix -c "$dir" reload >>"$dir/start.log" 2>&1 || {
		cat "$dir/start.log" >&2
		lab_die "postfix reload in $dir failed"
	}
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
		"virtual_mailbox_domains = lab.test
virtual_mailbox_base = $mail/r
virtual_mailbox_maps = texthash:$R/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
recipient_delimiter = +
delay_warning_time = 10s
bounce_template_file = $R/bounce.cf
smtp_connect_timeout = 5s"
	add_master_line "$R" 'virtual   unix  -       n       n       -       -       virtual'
	pf_settle "$NS_R" "$R" "mynetworks = 127.0.0.0/8, 198.18.64.0/24" \
		"mydestination = relay.lab.test, localhost" \
		"maximal_queue_lifetime = 50s" "bounce_queue_lifetime = 50s"

	# mx-b / mx-c: one Postfix, two addresses; mx-c does not announce DSN.
	local B=$LAB_TMP/mxb
	mkdir -p "$B"
	printf 'postmaster@mx-b.lab.test box/Maildir/\npostmaster@mx-c.lab.test box/Maildir/\n' >"$B/vmailbox"
	lab_postfix_instance "$NS_B" "$B" mx-b.lab.test "198.18.64.18, 198.18.64.19" \
		"virtual_mailbox_domains = mx-b.lab.test, mx-c.lab.test
virtual_mailbox_base = $mail/b
virtual_mailbox_maps = texthash:$B/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534"
	sed -i 's/^smtp      inet.*$/198.18.64.18:smtp inet n - n - - smtpd\n198.18.64.19:smtp inet n - n - - smtpd -o smtpd_discard_ehlo_keywords=dsn -o myhostname=mx-c.lab.test/' "$B/master.cf"
	add_master_line "$B" 'virtual   unix  -       n       n       -       -       virtual'
	pf_settle "$NS_B" "$B" "mydestination =" "relayhost = [198.18.64.17]"

	# The two clients: no listener needed beyond loopback.
	local A=$LAB_TMP/hosta M=$LAB_TMP/hostm
	lab_postfix_instance "$NS_A" "$A" host-a.lab.test "127.0.0.1"
	lab_postfix_instance "$NS_M" "$M" host-m.lab.test "127.0.0.1" "masquerade_domains = lab.test"
	pf_settle "$NS_A" "$A" "relayhost = [198.18.64.33]"
	pf_settle "$NS_M" "$M" "relayhost = [198.18.64.49]"
	exim_setup && EXIM_OK=1
	sm_setup && SM_OK=1
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

	# Exim's: through the relay (which passes NOTIFY / ENVID / RET on)
	local want=7
	if [ "$EXIM_OK" = 1 ]; then
		send_r mhexrefused01 root@down-x.lab.test failure,delay full \
			'mailhole probe mhexrefused01 (Exim, refused)'
		send_r mhexnouser001 nosuchuser@mx-x.lab.test failure,delay hdrs \
			'mailhole probe mhexnouser001 (Exim, unknown user)'
		send_r mhexdeliver01 postmaster@mx-x.lab.test success,failure,delay hdrs \
			'mailhole probe mhexdeliver01 (Exim, delivered)'
		want=11
	fi
	if [ "$SM_OK" = 1 ]; then
		send_r mhsmrefused01 root@down-s.lab.test failure,delay full \
			'mailhole probe mhsmrefused01 (Sendmail, refused)'
		want=$((want + 2))
	fi

	# Wait for: 2 messages, reject failure, delivered, relayed, delay, failure = 7
	# (Postfix), and Exim's delay, failure, failure, delivered = 4.
	local box=$mail/r/audit/Maildir/new n=0 i
	for ((i = 0; i < 150; i++)); do
		# distinct (tag, action) pairs: a repeated notice does not count twice
		n=$(for f in "$box"/*; do
			[ -f "$f" ] || continue
			printf '%s %s\n' "$(grep -o -m1 -E 'mh(pf|ex|sm)[a-z0-9]{8,40}' "$f" | head -n 1)" \
				"$(grep -m1 -i '^Action:' "$f" | awk '{print tolower($2)}')"
		done | sort -u | wc -l)
		[ "$n" -ge "$want" ] && break
		sleep 1
	done
	[ "$n" -ge "$want" ] || [ "$EXIM_OK" = 0 ] || {
		lab_log "only $n of $want messages; Exim's log:"
		tail -n 30 "$LAB_TMP/exim/log/mainlog" >&2 2>/dev/null
	}
	lab_log "collector holds $n messages after $i s"
	[ "$n" -ge 7 ] || {
		tail -n 40 "$R/maillog" >&2
		lab_die "expected 7 messages in the collector"
	}

	# Name each by what it is: postfix-TAGROLE-ACTION.eml
	local f tag act name
	for f in "$box"/*; do
		tag=$(grep -o -m1 -E 'mh(pf|ex|sm)[a-z0-9]{8,40}' "$f" | head -n 1)
		act=$(grep -m1 -i '^Action:' "$f" | awk '{print tolower($2)}')
		case $tag in
		mhpfrefused01) name=refused ;; mhpfreject001) name=reject ;;
		mhpfdeliver01) name=success ;; mhpfrelayed01) name=success-nodsn ;;
		mhpfhosta0001) name=arrived-host-qualified ;; mhpfhostm0001) name=arrived-masqueraded ;;
		mhexrefused01) name=refused ;; mhexnouser001) name=nouser ;;
		mhexdeliver01) name=success ;; mhsmrefused01) name=refused ;;
		*) name=unknown-$(basename "$f") ;;
		esac
		[ -n "$act" ] && name=$name-$act
		case $tag in mhex*) name=exim-$name ;; mhsm*) name=sendmail-$name ;; *) name=postfix-$name ;; esac
		cp "$f" "$OUT/$name.eml"
		lab_log "$name.eml"
	done
	chmod 644 "$OUT"/postfix-*.eml "$OUT"/exim-*.eml "$OUT"/sendmail-*.eml 2>/dev/null
	return 0
}

lab_run_isolated
rc=$?
[ "$rc" = 0 ] && { derive || rc=1; }
exit "$rc"
