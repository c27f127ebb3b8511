#!/bin/bash
# lab_probe.sh MAILHOLE BUILD_DIR -- `mailhole probe` end to end against real
# servers: a Postfix relay with DSN and short retry times, Dovecot IMAP as the
# collector mailbox, and four hosts behind the relay, each in its own network
# namespace, on one bridge (198.18.7.0/24) inside the relay's namespace:
#   relay    198.18.7.1   Postfix relay (mynetworks = the lab), lab.test
#                         delivered to a virtual Maildir (audit@lab.test,
#                         recipient_delimiter +), delay_warning_time 5s;
#                         Dovecot IMAP on 198.18.7.1:143 over that Maildir
#   host-bh  198.18.7.11  Postfix with no smtpd at all, no masquerading:
#                         the black hole -> root@ and postmaster@ black-hole,
#                         bare-recipient-black-hole at high (its local report
#                         says it does not masquerade)
#   host-mq  198.18.7.12  the same, masquerading as lab.test: the probes are
#                         black holes too, but the finding is low
#   host-ex  198.18.7.13  Postfix on all interfaces, root and postmaster
#                         aliased to audit@lab.test -> delivered
#   host-rj  198.18.7.14  Postfix that refuses every recipient (554) ->
#                         the relay's failed DSN -> bounced
# `mailhole probe` runs in the relay's namespace with a 30 s deadline and must
# give every probe its verdict within 60 s. Then: a second `probe send` sends
# nothing twice; `probe collect` on the state still works; `mailhole local`
# reports of host-bh / host-mq (made in their namespaces, under their own
# host names) weigh the findings; bad input exits 2 with one line.
#
# Exit 0 pass, 1 fail, 77 skip (no root / netns). Network safety: only
# 127.0.0.0/8 and 198.18.7.0/24 inside namespaces this script creates.
# LAB_KEEP=1 keeps the work dir.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# MAILHOLE and BUILD_DIR from the arguments, root and netns or skip, the ledger, fail()
lab_start "$@"
SHOWN=0

# expect FILE DESC FILTER
expect() {
	if ! jq -e "$3" "$1" >/dev/null 2>&1; then
		fail "$2"
		echo "      check: $3"
		if [ "$SHOWN" = 0 ]; then
			SHOWN=1
			echo "      got:   $(jq -c '[.hosts[] | {names, probes: [.probes[]? | {rcpt, verdict, by: .evidence.decided_by, status: .evidence.status, diag: .evidence.diagnostic}], findings: [.findings[] | {id, severity, evidence}]}]' "$1" 2>&1 | head -c 3000)"
		fi
	fi
	return 0
}

lab_install_dovecot() {
	[ -x /usr/sbin/dovecot ] && return 0
	lab_log "installing dovecot-imapd (apt-get)"
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d &&
			LAB_POLICY_RC_CREATED=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300 install \
		--no-install-recommends dovecot-imapd >"$LAB_TMP/apt-dovecot.log" 2>&1 ||
		{ DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 update &&
			DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300 \
				install --no-install-recommends dovecot-imapd; } >>"$LAB_TMP/apt-dovecot.log" 2>&1
	lab_remove_policy_rc
	[ -x /usr/sbin/dovecot ] || lab_die "could not install dovecot-imapd"
}

# host NAME LETTER ADDR: a namespace on the relay's bridge.
mkhost() {
	local ns=$1 l=$2 addr=$3
	lab_netns_add "$ns"
	lab_veth "$ns" "mhl${LAB_ID}$l" "$RNS" "mhl${LAB_ID}${l}b"
	ip -n "$RNS" link set "mhl${LAB_ID}${l}b" master "mhl${LAB_ID}br" ||
		lab_die "bridge port failed"
	ip -n "$ns" addr add "$addr/24" dev "mhl${LAB_ID}$l" || lab_die "addr $addr failed"
	lab_netns_hosts "$ns" "${HOSTS_LINES[@]}"
}

lab_body() {
	lab_init
	lab_install_postfix
	lab_install_dovecot
	local T=$LAB_TMP OUT=$LAB_TMP/out
	mkdir -p "$OUT" && chmod 1777 "$OUT"
	RNS=mhl-$LAB_ID-relay
	HOSTS_LINES=("198.18.7.1 relay.lab.test relay lab.test" "198.18.7.11 host-bh.lab.test host-bh"
		"198.18.7.12 host-mq.lab.test host-mq" "198.18.7.13 host-ex.lab.test host-ex"
		"198.18.7.14 host-rj.lab.test host-rj")
	lab_netns_add "$RNS"
	lab_netns_hosts "$RNS" "${HOSTS_LINES[@]}"
	ip -n "$RNS" link add "mhl${LAB_ID}br" type bridge || lab_die "bridge failed"
	ip -n "$RNS" addr add 198.18.7.1/24 dev "mhl${LAB_ID}br" || lab_die "relay addr failed"
	ip -n "$RNS" link set "mhl${LAB_ID}br" up || lab_die "bridge up failed"
	local BH=mhl-$LAB_ID-bh MQ=mhl-$LAB_ID-mq EX=mhl-$LAB_ID-ex RJ=mhl-$LAB_ID-rj
	mkhost "$BH" b 198.18.7.11
	mkhost "$MQ" m 198.18.7.12
	mkhost "$EX" e 198.18.7.13
	mkhost "$RJ" r 198.18.7.14

	# ---- the collector: a virtual Maildir at the relay, read by Dovecot ----
	local VM=$T/vmail
	mkdir -p "$VM/audit" && chown -R 65534:65534 "$VM" && chmod 700 "$VM/audit"
	mkdir -p "$T/dovecot/run" && chmod 755 "$T/dovecot"
	printf 'audit:{PLAIN}lab-secret:65534:65534::%s/audit::\n' "$VM" >"$T/dovecot/passwd"
	cat >"$T/dovecot/dovecot.conf" <<EOF
base_dir = $T/dovecot/run
state_dir = $T/dovecot/run
log_path = $T/dovecot/dovecot.log
protocols = imap
listen = 198.18.7.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $T/dovecot/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%n $T/dovecot/passwd
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 198.18.7.1
    port = 143
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
	lab_spawn "$RNS" "$T/dovecot/run/master.pid" "$T/dovecot/start.log" \
		/usr/sbin/dovecot -F -c "$T/dovecot/dovecot.conf"
	local i
	for ((i = 0; i < 100; i++)); do
		ip netns exec "$RNS" ss -Hltn 'sport = :143' 2>/dev/null | grep -q 198.18.7.1 && break
		sleep 0.1
	done
	[ "$i" -lt 100 ] || { cat "$T/dovecot/start.log" "$T/dovecot/dovecot.log" >&2; lab_die "dovecot does not listen"; }

	# ---- the relay ----
	# relay_domains: the fleet's hosts are relayed to, from anyone;
	# lab.test itself is the virtual mailbox domain of the collector
	local R=$T/pf-relay
	printf 'audit@lab.test audit/Maildir/\n' >"$T/vmailbox"
	LAB_PF_MASTER_EXTRA='virtual   unix  -       n       n       -       -       virtual' \
		lab_postfix_instance "$RNS" "$R" relay.lab.test 198.18.7.1 "$(printf '%s\n' \
		'relay_domains = host-bh.lab.test host-mq.lab.test host-ex.lab.test host-rj.lab.test' \
		'virtual_mailbox_domains = lab.test' \
		"virtual_mailbox_base = $VM" \
		"virtual_mailbox_maps = texthash:$T/vmailbox" \
		'virtual_uid_maps = static:65534' 'virtual_gid_maps = static:65534' \
		'virtual_minimum_uid = 1' \
		'recipient_delimiter = +' \
		'delay_warning_time = 5s' \
		'maximal_queue_lifetime = 10m' 'bounce_queue_lifetime = 10m' \
		'smtp_connect_timeout = 3s')"

	# ---- the hosts ----
	# host-bh and host-mq: Postfix with no smtpd (they only send); host-mq
	# masquerades. host-ex forwards root and postmaster to the collector
	# (virtual_alias_maps; lab.test resolves to the relay); host-rj refuses
	# every recipient.
	local BHD=$T/pf-bh MQD=$T/pf-mq EXD=$T/pf-ex RJD=$T/pf-rj
	# (null clients: nothing is delivered locally; root@host-X goes to the relay)
	LAB_PF_NO_SMTPD=1 lab_postfix_instance "$BH" "$BHD" host-bh.lab.test 127.0.0.1 \
		"$(printf '%s\n' 'mydestination =' 'relayhost = [198.18.7.1]' 'local_transport = error:5.1.1 no local delivery')"
	LAB_PF_NO_SMTPD=1 lab_postfix_instance "$MQ" "$MQD" host-mq.lab.test 127.0.0.1 \
		"$(printf '%s\n' 'mydestination =' 'relayhost = [198.18.7.1]' 'local_transport = error:5.1.1 no local delivery' 'masquerade_domains = lab.test')"
	printf 'root@host-ex.lab.test audit@lab.test\npostmaster@host-ex.lab.test audit@lab.test\n' \
		>"$T/virtual-ex"
	lab_postfix_instance "$EX" "$EXD" host-ex.lab.test "198.18.7.13, 127.0.0.1" \
		"virtual_alias_maps = texthash:$T/virtual-ex"
	lab_postfix_instance "$RJ" "$RJD" host-rj.lab.test "198.18.7.14" \
		'smtpd_recipient_restrictions = reject'

	# local reports of the two black holes, under their own host names
	for pair in "$BH|host-bh.lab.test|$BHD" "$MQ|host-mq.lab.test|$MQD"; do
		IFS='|' read -r ns name dir <<<"$pair"
		timeout 30 ip netns exec "$ns" unshare --uts sh -c \
			'hostname "$1" && exec "$2" local --quiet --fail-on none --config "$3/main.cf" -o "$4"' \
			sh "$name" "$MAILHOLE" "$dir" "$OUT/local-${name%%.*}.json" \
			</dev/null >"$OUT/local.out" 2>&1 || fail "mailhole local in $ns failed: $(cat "$OUT/local.out")"
	done
	expect "$OUT/local-host-bh.json" "local: host-bh does not masquerade" \
		'.hosts[0].local.mta.masquerade.domain == null'
	expect "$OUT/local-host-mq.json" "local: host-mq masquerades as lab.test" \
		'.hosts[0].local.mta.masquerade.domain == "lab.test"'

	# ---- the policy, the hosts ----
	printf 'lab-secret\n' >"$T/collector.pass"
	chmod 600 "$T/collector.pass"
	cat >"$T/policy.json" <<EOF
{
  "domain": "lab.test",
  "mail_servers": ["198.18.7.1", "198.18.7.13", "198.18.7.14"],
  "relay": "smtp://relay.lab.test:25",
  "collector": {
    "address": "audit@lab.test",
    "url": "imap://relay.lab.test/INBOX",
    "user": "audit",
    "password_file": "$T/collector.pass"
  }
}
EOF
	printf '# fleet\nhost-bh.lab.test\nhost-mq.lab.test\nHOST-EX.lab.test.\nhost-rj.lab.test\n' >"$T/hosts"

	# ---- the probe ----
	local t0 t1 rc
	t0=$(date +%s)
	timeout 120 ip netns exec "$RNS" "$MAILHOLE" probe --policy "$T/policy.json" \
		--hosts "$T/hosts" --deadline 30 --poll 2 --state "$T/state.json" \
		--local-report "$OUT/local-host-bh.json" --local-report "$OUT/local-host-mq.json" \
		-o "$OUT/probe.json" </dev/null >"$OUT/probe.out" 2>"$OUT/probe.err"
	rc=$?
	t1=$(date +%s)
	echo "lab: mailhole probe -> exit $rc in $((t1 - t0)) s"
	sed 's/^/      /' "$OUT/probe.out"
	[ "$rc" = 1 ] || { fail "probe: exit $rc, 1 expected (high findings)"; sed 's/^/      stderr: /' "$OUT/probe.err"; }
	[ $((t1 - t0)) -le 60 ] || fail "probe: took $((t1 - t0)) s, the verdicts must come within 60 s"
	jq -e . "$OUT/probe.json" >/dev/null 2>&1 || { fail "probe: no valid JSON"; return; }
	local P='.hosts[] | select(.names[0] == $h)'
	v() { # HOST LOCAL VERDICT
		expect "$OUT/probe.json" "probe: $2@$1 is $3" \
			"[.hosts[] | select(.names[0] == \"$1\") | .probes[] | select(.rcpt == \"$2@$1\") | .verdict] == [\"$3\"]"
	}
	v host-bh.lab.test root black-hole
	v host-bh.lab.test postmaster black-hole
	v host-mq.lab.test root black-hole
	v host-ex.lab.test root delivered
	v host-ex.lab.test postmaster delivered
	v host-rj.lab.test root bounced
	: "$P"
	expect "$OUT/probe.json" "probe: host-bh's black hole shows the relay's delay notice (connection refused)" \
		'[.hosts[] | select(.names[0] == "host-bh.lab.test") | .probes[] | .evidence | select(.decided_by == "dsn" and (.diagnostic | test("refused"; "i")) and .status == "4.4.1")] | length >= 1'
	expect "$OUT/probe.json" "probe: host-bh has bare-recipient-black-hole (high), weighed by its local report" \
		'[.hosts[] | select(.names[0] == "host-bh.lab.test") | .findings[] | select(.id == "bare-recipient-black-hole" and .severity == "high" and (.evidence | test("does not masquerade")))] | length == 1'
	expect "$OUT/probe.json" "probe: host-mq's finding is low (it masquerades)" \
		'[.hosts[] | select(.names[0] == "host-mq.lab.test") | .findings[] | select(.id == "bare-recipient-black-hole" and .severity == "low" and (.evidence | test("masquerades")))] | length == 1'
	expect "$OUT/probe.json" "probe: host-rj's bounce carries the 5.x.x status and the host's reply" \
		'[.hosts[] | select(.names[0] == "host-rj.lab.test") | .probes[] | select(.verdict == "bounced") | .evidence | select((.status | startswith("5")) and (.diagnostic | length > 0))] | length == 2'
	expect "$OUT/probe.json" "probe: no finding on host-ex and host-rj" \
		'[.hosts[] | select(.names[0] == "host-ex.lab.test" or .names[0] == "host-rj.lab.test") | .findings[]] | length == 0'
	expect "$OUT/probe.json" "probe: each host record is keyed by the host's address" \
		'([.hosts[] | select(.names[0] == "host-bh.lab.test") | .addr] == ["198.18.7.11"]) and ([.hosts[] | .probes[] | .tag | test("^mh[a-z0-9]{16}$")] | all)'

	# ---- the HTML report shows each probe's verdict and evidence ----
	"$MAILHOLE" report "$OUT/probe.json" --html "$OUT/probe.html" -o "$OUT/merged.json" \
		--fail-on none >/dev/null 2>"$OUT/report.err" || fail "report --html: $(cat "$OUT/report.err")"
	local tag
	tag=$(jq -r '.hosts[] | select(.names[0] == "host-bh.lab.test") | .probes[0].tag' "$OUT/probe.json")
	grep -q "<code>$tag</code>" "$OUT/probe.html" && grep -q '<strong>black-hole</strong>' "$OUT/probe.html" &&
		grep -q 'Connection refused' "$OUT/probe.html" ||
		fail "report --html: the probes table lacks host-bh's probe $tag, its verdict or its DSN"

	# ---- the relay's queue holds the black holes' probes: mailhole queue ----
	timeout 30 ip netns exec "$RNS" env MAIL_CONFIG="$R" postqueue -j >"$OUT/postqueue.jsonl" 2>"$OUT/postqueue.err" ||
		fail "postqueue -j failed: $(cat "$OUT/postqueue.err")"
	timeout 30 ip netns exec "$RNS" "$MAILHOLE" queue "$OUT/postqueue.jsonl" --policy "$T/policy.json" \
		--main-cf "$R/main.cf" -o "$OUT/queue.json" </dev/null >/dev/null 2>"$OUT/queue.err"
	rc=$?
	[ "$rc" = 1 ] || fail "queue: exit $rc, 1 expected: $(cat "$OUT/queue.err")"
	expect "$OUT/queue.json" "queue: relay-queue-black-hole for host-bh and host-mq (connection refused), none for the others" \
		'([.hosts[] | select(any(.findings[]; .id == "relay-queue-black-hole")) | .addr] | sort) == ["198.18.7.11", "198.18.7.12"] and ([.queue.destinations[] | select(.domain == "host-bh.lab.test") | .reasons["connection-refused"]] == [2])'

	# ---- host-submission: mailhole local --probe on host-bh and host-mq ----
	local bg=()
	for pair in "$BH|host-bh.lab.test|$BHD" "$MQ|host-mq.lab.test|$MQD"; do
		IFS='|' read -r ns name dir <<<"$pair"
		MAIL_CONFIG=$dir timeout 90 ip netns exec "$ns" unshare --uts sh -c \
			'hostname "$1" && exec "$2" local --quiet --fail-on none --config "$3/main.cf" --probe --policy "$4" --state "$5" --deadline 20 -o "$6"' \
			sh "$name" "$MAILHOLE" "$dir" "$T/policy.json" "$T/state-${name%%.*}.json" \
			"$OUT/lprobe-${name%%.*}.json" </dev/null >"$OUT/lprobe-${name%%.*}.out" 2>&1 &
		LAB_PIDS+=("$!")
		bg+=("$!")
	done
	wait "${bg[@]}" # (not a bare wait: Dovecot is a child of this shell too)
	for name in host-bh host-mq; do
		jq -e . "$OUT/lprobe-$name.json" >/dev/null 2>&1 ||
			fail "local --probe on $name: no document: $(cat "$OUT/lprobe-$name.out")"
	done
	LP='.hosts[0].probes[] | select(.variant == $v) | .verdict'
	lp() { # NAME VARIANT VERDICT
		expect "$OUT/lprobe-$1.json" "local --probe on $1: $2 is $3" \
			"[.hosts[0].probes[] | select(.variant == \"$2\") | .verdict] == [\"$3\"]"
	}
	: "$LP"
	lp host-bh bare-sender delivered-host-qualified
	lp host-bh bare-root black-hole
	lp host-mq bare-sender delivered
	lp host-mq bare-root black-hole
	expect "$OUT/lprobe-host-bh.json" "local --probe on host-bh: host-qualified-sender from the probe that arrived" \
		'[.hosts[0].findings[] | select(.id == "host-qualified-sender" and (.evidence | test("probe mh.*Return-Path <root@host-bh.lab.test>")))] | length == 1'
	expect "$OUT/lprobe-host-bh.json" "local --probe on host-bh: the arrived probe's evidence" \
		'.hosts[0].probes[] | select(.variant == "bare-sender") | .evidence | (.return_path == "root@host-bh.lab.test" and .sender == "host-qualified" and .received_count >= 1)'
	expect "$OUT/lprobe-host-mq.json" "local --probe on host-mq: masqueraded, no host-qualified-sender" \
		'(.hosts[0].probes[] | select(.variant == "bare-sender") | .evidence.return_path == "root@lab.test") and ([.hosts[0].findings[] | select(.id == "host-qualified-sender")] | length == 0)'

	# ---- a re-run sends nothing twice; collect alone still reads ----
	timeout 60 ip netns exec "$RNS" "$MAILHOLE" probe send --policy "$T/policy.json" \
		--hosts "$T/hosts" --state "$T/state.json" -o "$OUT/send2.json" \
		</dev/null >/dev/null 2>"$OUT/send2.err"
	grep -q "0 sent" "$OUT/send2.err" || fail "probe send again: $(cat "$OUT/send2.err")"
	[ "$(jq '.probes | length' "$T/state.json")" = 8 ] || fail "state: $(jq '.probes | length' "$T/state.json") probes, 8 expected"
	# a damaged message in the mailbox: one warning naming it, the rest still read
	cp "$HERE/../fixtures/mail/broken/no-headers.eml" "$VM/audit/Maildir/new/1765000000.junk.relay"
	chown 65534:65534 "$VM/audit/Maildir/new/1765000000.junk.relay"
	timeout 60 ip netns exec "$RNS" "$MAILHOLE" probe collect --policy "$T/policy.json" \
		--state "$T/state.json" -o "$OUT/collect.json" </dev/null >/dev/null 2>"$OUT/collect.err"
	rc=$?
	[ "$rc" = 1 ] || fail "probe collect: exit $rc, 1 expected: $(cat "$OUT/collect.err")"
	grep -q "collector message [0-9]*: .*(skipped)" "$OUT/collect.err" ||
		fail "probe collect: no warning naming the damaged message: $(cat "$OUT/collect.err")"
	[ "$(jq .bad_messages "$T/state.json")" = 1 ] || fail "state: bad_messages $(jq .bad_messages "$T/state.json"), 1 expected"
	# --expunge: read the mailbox again from the start; every message about this
	# state's probes is deleted, the others stay
	local before after
	before=$(find "$VM/audit/Maildir/cur" "$VM/audit/Maildir/new" -type f | wc -l)
	jq '.last_uid = 0' "$T/state.json" >"$T/state.tmp" && mv "$T/state.tmp" "$T/state.json"
	timeout 60 ip netns exec "$RNS" "$MAILHOLE" probe collect --expunge --policy "$T/policy.json" \
		--state "$T/state.json" -o "$OUT/expunge.json" </dev/null >/dev/null 2>"$OUT/expunge.err"
	after=$(find "$VM/audit/Maildir/cur" "$VM/audit/Maildir/new" -type f | wc -l)
	[ "$after" -lt "$before" ] || fail "probe collect --expunge: $before messages before, $after after"
	# what is left: the damaged message, and those about local --probe's probes
	# (other state files); none names a probe of this state
	local f left=0
	for f in $(find "$VM/audit/Maildir/cur" "$VM/audit/Maildir/new" -type f); do
		grep -qFf <(jq -r '.probes[].tag' "$T/state.json") "$f" && left=$((left + 1))
	done
	[ "$left" = 0 ] || fail "probe collect --expunge: $left messages about this run's probes left"
	[ -n "$(find "$VM/audit/Maildir" -name '1765000000.junk.relay*')" ] ||
		fail "probe collect --expunge: the damaged message (no tag of ours) was deleted"
	expect "$OUT/expunge.json" "probe collect --expunge: the verdicts stand" \
		'[.hosts[].probes[].verdict] | sort == ["black-hole","black-hole","black-hole","black-hole","bounced","bounced","delivered","delivered"]'
	expect "$OUT/collect.json" "probe collect: the same verdicts from the state" \
		'[.hosts[].probes[].verdict] | sort == ["black-hole","black-hole","black-hole","black-hole","bounced","bounced","delivered","delivered"]'

	# ---- bad input: exit 2, one line, naming the input ----
	printf 'host-bh.lab.test\nnot a host\n' >"$T/badhosts"
	local err
	err=$("$MAILHOLE" probe send --policy "$T/policy.json" --hosts "$T/badhosts" \
		--state "$T/bad-state.json" 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 2 ] || fail "bad hosts file: exit $rc, 2 expected"
	case $err in *"badhosts line 2"*) ;; *) fail "bad hosts file said: $err" ;; esac
	[ -e "$T/bad-state.json" ] && fail "bad hosts file: a state file was written"
	printf '{"schema":"mailhole-probe-state/1","probes":[{"tag":"x"}]}' >"$T/bad-state.json"
	err=$("$MAILHOLE" probe collect --policy "$T/policy.json" --state "$T/bad-state.json" 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 2 ] || fail "bad state file: exit $rc, 2 expected"
	case $err in *"bad-state.json"*) ;; *) fail "bad state file said: $err" ;; esac
	err=$("$MAILHOLE" probe --hosts "$T/hosts" 2>&1 >/dev/null)
	[ $? = 2 ] || fail "probe without --policy: not exit 2"
	[ "$(printf '%s\n' "$err" | wc -l)" = 1 ] || fail "probe without --policy: not one line: $err"

	if [ "$FAILS" -gt 0 ]; then
		echo "lab_probe: $FAILS failures"
		[ "${LAB_KEEP:-0}" = 1 ] || { echo "--- relay maillog"; tail -n 40 "$R/maillog"; }
		exit 1
	fi
	echo "lab_probe: all cases pass"
	exit 0
}

lab_run_isolated
rc=$?
exit "$rc"
