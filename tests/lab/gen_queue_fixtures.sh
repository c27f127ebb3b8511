#!/bin/bash
# gen_queue_fixtures.sh OUTDIR -- captures the relay-queue fixtures of
# tests/fixtures/queue/ from real MTAs in network namespaces (not a lab_*
# script: ctest does not run it; run it by hand as root and commit what it
# writes, after reading it).
#
# Topology (198.18.0.0/15 only, namespaces this script creates):
#   relay  R  198.18.60.1/24 <-> A 198.18.60.5   host-a.lab.test: a namespace
#                                                 where nothing listens on 25
#                                                 (RST: "Connection refused")
#             198.18.61.1/24 <-> S 198.18.61.9   a sink with forwarding off;
#             route 198.18.62.6/32 via .61.9      host-b.lab.test: packets are
#                                                 dropped silently (timeout)
#             host-d.lab.test 198.18.63.7          no route at all
#             partner.example 198.18.64.9          no route (not a fleet host)
#             host-c.lab.test                      in no hosts file (not found)
#             relay.lab.test                       the relay itself
# The relay's /etc/hosts (its namespace's) names these; no DNS anywhere.
#
# Each MTA gets the same mail: a message from mary@host-e.lab.test to
# root@host-a, postmaster@host-a and root@host-b; one to root@host-c; one to
# ops@host-d; one to someone@partner.example; and (Exim) one to a local
# recipient that is delivered (":blackhole:") beside one that is deferred.
# Then one queue run, and the queue listing is captured:
#   postfix-defer.jsonl   Postfix `postqueue -j` (MAIL_CONFIG=instance)
#   sendmail-mailq.txt    Sendmail 8.17 `mailq` (sendmail -bp), the MTA queue
#   sendmail-mailq-ac.txt Sendmail `mailq -Ac`: the MSP client queue
#   exim-bp.txt           Exim 4.96 `exim -bp`
# Sendmail and Exim come from Debian packages unpacked (apt-get download +
# dpkg -x) under /var/cache/mailhole-lab/queue-fixtures, never installed.
set -u
OUT=${1:?usage: gen_queue_fixtures.sh OUTDIR}
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
CACHE=/var/cache/mailhole-lab/queue-fixtures
lab_require_root
LAB_LEDGER=$(mktemp "/tmp/mhl-ledger-$LAB_ID.XXXXXX") || lab_die "mktemp failed"
export LAB_LEDGER

HOSTS_LINES=(
	"198.18.60.1 relay.lab.test relay"
	"198.18.60.5 host-a.lab.test host-a"
	"198.18.62.6 host-b.lab.test host-b"
	"198.18.63.7 host-d.lab.test host-d"
	"198.18.64.9 partner.example"
)

# The namespaces and routes above.
net_up() {
	R=mhl-$LAB_ID-r
	A=mhl-$LAB_ID-a
	S=mhl-$LAB_ID-s
	lab_netns_add "$R"
	lab_netns_add "$A"
	lab_netns_add "$S"
	lab_netns_hosts "$R" "${HOSTS_LINES[@]}"
	lab_veth "$R" "mhl${LAB_ID}r" "$A" "mhl${LAB_ID}a"
	lab_veth "$R" "mhl${LAB_ID}t" "$S" "mhl${LAB_ID}s"
	ip -n "$R" addr add 198.18.60.1/24 dev "mhl${LAB_ID}r" || lab_die "addr R"
	ip -n "$A" addr add 198.18.60.5/24 dev "mhl${LAB_ID}a" || lab_die "addr A"
	ip -n "$R" addr add 198.18.61.1/24 dev "mhl${LAB_ID}t" || lab_die "addr R2"
	ip -n "$S" addr add 198.18.61.9/24 dev "mhl${LAB_ID}s" || lab_die "addr S"
	ip -n "$R" route add 198.18.62.6/32 via 198.18.61.9 || lab_die "route host-b"
	ip netns exec "$S" sysctl -qw net.ipv4.ip_forward=0 || lab_die "forwarding off in S"
}

MSG_A="Subject: queue fixture 1\n\nto host-a and host-b\n"

# submit CMD...: the same five messages through a submission command
# (its arguments before the recipients).
submit() {
	printf 'From: mary@host-e.lab.test\nTo: root@host-a.lab.test\nSubject: queue fixture 1\n\nto host-a and host-b\n' |
		"$@" -f mary@host-e.lab.test root@host-a.lab.test postmaster@host-a.lab.test \
			root@host-b.lab.test || return 1
	printf 'From: cron@host-e.lab.test\nSubject: queue fixture 2\n\nto host-c\n' |
		"$@" -f cron@host-e.lab.test root@host-c.lab.test || return 1
	printf 'Subject: queue fixture 3\n\nto host-d\n' |
		"$@" -f root@host-e.lab.test ops@host-d.lab.test || return 1
	printf 'Subject: queue fixture 4\n\nto a partner\n' |
		"$@" -f mary@host-e.lab.test someone@partner.example || return 1
}

# ---- Postfix -------------------------------------------------------------
gen_postfix() {
	local dir=$LAB_TMP/pf i n
	lab_postfix_instance "$R" "$dir" relay.lab.test 127.0.0.1
	# postconf -e rewrites in place: a repeated parameter makes every daemon
	# warn, postlogd included, which then blocks logging its own warning
	postconf -c "$dir" -e maximal_queue_lifetime=5d bounce_queue_lifetime=5d \
		smtp_connect_timeout=4s queue_run_delay=300s minimal_backoff_time=300s \
		maximal_backoff_time=600s 'mydestination=relay.lab.test, localhost' ||
		lab_die "postconf -e failed"
	timeout 30 ip netns exec "$R" postfix -c "$dir" reload >>"$dir/start.log" 2>&1 ||
		lab_die "postfix reload failed"
	submit env MAIL_CONFIG="$dir" ip netns exec "$R" /usr/sbin/sendmail -i ||
		lab_die "postfix submission failed"
	# every recipient deferred once (the timeout takes smtp_connect_timeout)
	for ((i = 0; i < 120; i++)); do
		MAIL_CONFIG=$dir timeout 10 ip netns exec "$R" postqueue -j >"$LAB_TMP/pf.jsonl" 2>/dev/null
		n=$(jq -s '[.[].recipients[] | select(.delay_reason == null)] | length' \
			"$LAB_TMP/pf.jsonl" 2>/dev/null)
		[ "$(wc -l <"$LAB_TMP/pf.jsonl")" -ge 3 ] && [ "$n" = 0 ] && break
		sleep 0.5
	done
	[ "$n" = 0 ] || lab_die "postfix: recipients not all deferred after 60 s"
	cp "$LAB_TMP/pf.jsonl" "$OUT/postfix-defer.jsonl"
	MAIL_CONFIG=$dir timeout 10 ip netns exec "$R" postqueue -p >"$OUT/postfix-defer.postqueue-p.txt"
	lab_log "postfix: $(wc -l <"$OUT/postfix-defer.jsonl") messages captured"
}

# unpack PKG...: Debian packages unpacked (never installed) under $CACHE/root.
unpack() {
	local p deb
	mkdir -p "$CACHE/debs" "$CACHE/root" || return 1
	for p in "$@"; do
		deb=$(ls "$CACHE/debs/${p}_"*.deb 2>/dev/null | head -n 1)
		if [ -z "$deb" ]; then
			(cd "$CACHE/debs" && apt-get download "$p" >/dev/null 2>&1) || return 1
			deb=$(ls "$CACHE/debs/${p}_"*.deb | head -n 1)
		fi
		dpkg -x "$deb" "$CACHE/root" || return 1
	done
}

# smx CMD...: CMD in R, in a UTS namespace of its own named relay.lab.test
# (sendmail stalls when its host name does not resolve).
smx() {
	timeout 60 ip netns exec "$R" unshare --uts sh -c 'hostname relay.lab.test && exec "$@"' sh "$@"
}

# ---- Sendmail 8.17 ---------------------------------------------------------
# The MTA (sendmail.cf) queues with -odq and runs its queue once (-q) in R;
# the MSP (submit.cf, FEATURE(msp) toward 127.0.0.1 where nothing listens)
# keeps its message in the client queue, which `mailq -Ac` lists under
# "MSP Queue status".
gen_sendmail() {
	command -v m4 >/dev/null 2>&1 || return 1
	unpack sendmail-bin sendmail-base sendmail-cf || return 1
	local sm=$CACHE/root/usr/libexec/sendmail/sendmail cf=$CACHE/root/usr/share/sendmail/cf
	local d=$LAB_TMP/sm
	[ -n "$LAB_TMP" ] || return 1
	mkdir -p "$d/mqueue" "$d/clientmqueue" || return 1
	chmod 700 "$d/mqueue"
	chown mail:mail "$d/clientmqueue" && chmod 770 "$d/clientmqueue"
	printf 'hosts\tfiles\naliases\tfiles\n' >"$d/service.switch"
	printf 'postmaster: root\n' >"$d/aliases"
	cat >"$d/sendmail.mc" <<SMEOF
divert(0)dnl
VERSIONID(\`mailhole queue fixture')dnl
OSTYPE(\`linux')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`QUEUE_DIR', \`$d/mqueue')dnl
define(\`STATUS_FILE', \`$d/statistics')dnl
define(\`ALIAS_FILE', \`$d/aliases')dnl
define(\`confPID_FILE', \`$d/sendmail.pid')dnl
define(\`confSERVICE_SWITCH_FILE', \`$d/service.switch')dnl
define(\`confTO_CONNECT', \`4s')dnl
define(\`confTO_ICONNECT', \`4s')dnl
FEATURE(\`nocanonify')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
SMEOF
	cat >"$d/submit.mc" <<SMEOF
divert(0)dnl
VERSIONID(\`mailhole queue fixture MSP')dnl
define(\`confRUN_AS_USER', \`mail:mail')dnl
define(\`MSP_QUEUE_DIR', \`$d/clientmqueue')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confTO_CONNECT', \`4s')dnl
FEATURE(\`msp', \`[127.0.0.1]')dnl
SMEOF
	m4 -D_CF_DIR_="$cf/" "$cf/m4/cf.m4" "$d/sendmail.mc" >"$d/sendmail.cf" || return 1
	m4 -D_CF_DIR_="$cf/" "$cf/m4/cf.m4" "$d/submit.mc" >"$d/submit.cf" || return 1
	submit smx "$sm" -C "$d/sendmail.cf" -odq -i >>"$d/log" 2>&1 || { cat "$d/log" >&2; return 1; }
	# -q forks the queue runner: wait until no message is locked ("*")
	smx "$sm" -C "$d/sendmail.cf" -q >>"$d/log" 2>&1
	local i
	for ((i = 0; i < 60; i++)); do
		sleep 1
		smx "$sm" -C "$d/sendmail.cf" -bp >"$OUT/sendmail-mailq.txt" 2>>"$d/log"
		grep -q '^[0-9A-Za-z]*\*' "$OUT/sendmail-mailq.txt" || break
	done
	printf 'Subject: queue fixture MSP\n\nstays in the client queue\n' |
		smx "$sm" -C "$d/submit.cf" -odi -i -f mary@host-e.lab.test root@host-a.lab.test \
			>>"$d/log" 2>&1
	smx "$sm" -C "$d/submit.cf" -Ac -bp >"$OUT/sendmail-mailq-ac.txt" 2>>"$d/log"
	# Debian's mailq (the mailq function of /usr/share/sendmail/sendmail) runs
	# both, each under a title line: the same two commands, the same titles
	{
		echo 'MSP Queue status...'
		smx "$sm" -C "$d/submit.cf" -bp -Ac
		echo 'MTA Queue status...'
		smx "$sm" -C "$d/sendmail.cf" -bp
	} >"$OUT/sendmail-mailq-debian.txt" 2>>"$d/log"
	cp "$d/log" "$OUT/sendmail.log"
	grep -q 'Deferred' "$OUT/sendmail-mailq.txt" || { cat "$d/log" >&2; return 1; }
	lab_log "sendmail: captured"
}

# ---- Exim 4.96 --------------------------------------------------------------
# exim4 -C CONF with a spool of its own, in R: messages queued, then one
# queue run; what is deferred stays. A local recipient (@relay.lab.test) goes to
# :blackhole: -- delivered -- beside a deferred one, for the "D" marker.
gen_exim() {
	unpack exim4-daemon-light exim4-base exim4-config libidn12 || return 1
	local ex=$CACHE/root/usr/sbin/exim4 d=$LAB_TMP/ex
	[ -n "$LAB_TMP" ] || return 1
	mkdir -p "$d/spool" "$d/log" || return 1
	chown -R mail:mail "$d/spool" "$d/log"
	cat >"$d/exim.conf" <<EXEOF
primary_hostname = relay.lab.test
spool_directory = $d/spool
log_file_path = $d/log/%slog
exim_user = mail
exim_group = mail
never_users =
domainlist local_domains = relay.lab.test
keep_environment =
host_lookup =
begin routers
blackhole_local:
  driver = redirect
  domains = +local_domains
  data = :blackhole:
remote:
  driver = manualroute
  domains = ! +local_domains
  transport = remote_smtp
  route_list = * \$domain byname
  no_more
begin transports
remote_smtp:
  driver = smtp
  connect_timeout = 4s
begin retry
*   *   F,2h,15m; G,16h,1h,1.5; F,4d,6h
EXEOF
	chmod 644 "$d/exim.conf"
	# the Debian binary resolves its built-in user Debian-exim at start: the
	# namespace's own passwd and group (ip netns exec mounts them over /etc)
	{ cat /etc/passwd; grep -q '^Debian-exim:' /etc/passwd ||
		echo 'Debian-exim:x:8:8:exim lab:/nonexistent:/usr/sbin/nologin'; } >"/etc/netns/$R/passwd"
	{ cat /etc/group; grep -q '^Debian-exim:' /etc/group || echo 'Debian-exim:x:8:'; } \
		>"/etc/netns/$R/group"
	local exx=(env LD_LIBRARY_PATH="$CACHE/root/usr/lib/x86_64-linux-gnu" timeout 60
		ip netns exec "$R" "$ex" -C "$d/exim.conf")
	# queued (-odq), then one forced queue run in the foreground: exim's
	# immediate delivery would re-exec its built-in path /usr/sbin/exim4
	submit "${exx[@]}" -odq -i >>"$d/submit.log" 2>&1
	printf 'Subject: queue fixture 5\n\nD marker\n' |
		"${exx[@]}" -odq -i -f mary@host-e.lab.test archive@relay.lab.test \
			root@host-a.lab.test >>"$d/submit.log" 2>&1
	# the D-marker message first, by its id (-M): archive@ delivered, host-a deferred
	local id
	id=$("${exx[@]}" -bp 2>/dev/null | awk '/^ *[0-9]+[smhdw] /{id=$3} /archive@/{print id}')
	[ -n "$id" ] && "${exx[@]}" -M "$id" >>"$d/submit.log" 2>&1
	# then a queue run for the rest (bounded: in this lab, exim's connect to the
	# silent host-b has been seen to outlast its connect_timeout)
	env LD_LIBRARY_PATH="$CACHE/root/usr/lib/x86_64-linux-gnu" timeout 30 \
		ip netns exec "$R" "$ex" -C "$d/exim.conf" -qff >>"$d/submit.log" 2>&1
	"${exx[@]}" -bp >"$OUT/exim-bp.txt" 2>>"$d/submit.log"
	cat "$d/submit.log" "$d/log/"* >"$OUT/exim.log" 2>/dev/null
	grep -q '<' "$OUT/exim-bp.txt" || { cat "$d/submit.log" "$d/log/"* >&2; return 1; }
	lab_log "exim: captured"
}

lab_body() {
	lab_init
	lab_install_postfix
	net_up
	[ -n "${GEN_ONLY_EXIM:-}" ] || gen_postfix
	[ -n "${GEN_ONLY_POSTFIX:-}" ] && return 0
	[ -n "${GEN_ONLY_EXIM:-}" ] || gen_sendmail || lab_log "sendmail: not captured"
	gen_exim || lab_log "exim: not captured"
	return 0
}

lab_run_isolated
