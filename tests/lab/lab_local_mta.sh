#!/bin/bash
# lab_local_mta.sh MAILHOLE BUILD_DIR -- `mailhole local` reads the running
# Postfix's configuration (local.mta) inside network namespaces and fires the
# masquerading rules from it.
#
# Each case has a namespace of its own (one veth into a shared peer namespace
# where nothing listens) and a Postfix instance on 127.0.0.1 only, started
# with `postfix -c DIR`, so mailhole must find DIR from the master's
# MAIL_CONFIG (its environment), not /etc/postfix:
#   m1 198.18.46.1/24  relay-only (relayhost = [198.18.46.254]), myorigin =
#                      $myhostname, no masquerade_domains
#                      -> mta postfix, masquerade.domain null,
#                         host-qualified-sender (high), exit 1
#      again with --policy (host-qualified-sender -> low) and --html: exit 0,
#      the finding still there at "low", an HTML file written
#   m2 198.18.47.1/24  the same with myorigin = lab.test
#                      -> masquerade.domain "lab.test", no host-qualified-sender
#   m3 198.18.48.1/24  the same with masquerade_domains = lab.test
#                      -> masquerade.domain "lab.test", envelope true,
#                         no host-qualified-sender
# Configuration only:
#   root   --root DIR holding m1's main.cf (mydestination emptied) and an
#          etc/aliases -> exposure "unknown", mta not running,
#          host-qualified-sender and local-aliases-unused
#   config --config m2's main.cf, run in m1's namespace -> lab.test
# Usage: --probe without --policy, --probe with --root; bad --root / --config /
# --policy exit 2.
#
# Exit 0 pass, 1 fail, 77 skip (no root / netns). Network safety: only
# 127.0.0.0/8 and 198.18.0.0/15 inside namespaces this script creates; no
# mail is sent (the relayhost is never contacted). LAB_KEEP=1 keeps the work dir.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# MAILHOLE and BUILD_DIR from the arguments, root and netns or skip, the ledger, fail()
lab_start "$@"

# expect FILE DESC FILTER [SHOW]
expect() {
	local file=$1 desc=$2 filter=$3 show=${4:-'.hosts[0] | {exposure, mta: .local.mta, findings: [.findings[] | {id, severity, evidence}]}'}
	if ! jq -e "$filter" "$file" >/dev/null 2>&1; then
		fail "$desc"
		echo "      check: $filter"
		echo "      got:   $(jq -c "$show" "$file" 2>&1 | head -c 1500)"
	fi
	return 0
}

has_finding() { # FILE ID
	jq -e --arg id "$2" 'any(.hosts[0].findings[]; .id == $id)' "$1" >/dev/null 2>&1
}

# run_local CASE NS EXPECTED_RC [ARGS...]: mailhole local -o CASE.json ARGS in NS
# (NS "-": outside any lab namespace, for configuration-only runs).
run_local() {
	local name=$1 ns=$2 want=$3 rc pid
	shift 3
	if [ "$ns" = - ]; then
		timeout 30 "$MAILHOLE" local -o "$OUTDIR/$name.json" "$@" \
			</dev/null >"$OUTDIR/$name.out" 2>"$OUTDIR/$name.err" &
	else
		timeout 30 ip netns exec "$ns" "$MAILHOLE" local -o "$OUTDIR/$name.json" "$@" \
			</dev/null >"$OUTDIR/$name.out" 2>"$OUTDIR/$name.err" &
	fi
	pid=$!
	LAB_PIDS+=("$pid")
	wait "$pid"
	rc=$?
	echo "lab: $name: mailhole local $* -> exit $rc"
	if [ "$rc" != "$want" ]; then
		fail "$name: exit $rc, $want expected"
		sed 's/^/      stderr: /' "$OUTDIR/$name.err" | head -n 10
		sed 's/^/      stdout: /' "$OUTDIR/$name.out" | head -n 30
	fi
	if ! jq -e . "$OUTDIR/$name.json" >/dev/null 2>&1; then
		fail "$name: no valid JSON document written"
		return 1
	fi
	return 0
}

# pf_set DIR NS KEY VALUE: sets a main.cf parameter, replacing its line (a
# repeated key makes every Postfix process warn, and postlogd can then block
# on its own warnings: `postfix stop` hangs). No reload: mailhole reads the
# files, and none of these parameters changes what the running daemons
# listen on. (The reader's last-definition-wins rule is a unit test's job.)
pf_set() {
	local dir=$1
	sed -i "/^$3[[:space:]]*=/d" "$dir/main.cf"
	printf '%s = %s\n' "$3" "$4" >>"$dir/main.cf"
}

# mkcase NS LETTER NET HOST DIR: namespace, veth, Postfix on 127.0.0.1, relay-only.
mkcase() {
	local ns=$1 l=$2 net=$3 host=$4 dir=$5
	lab_netns_add "$ns"
	lab_veth "$ns" "mhl${LAB_ID}$l" "$PEERNS" "mhl${LAB_ID}${l}p"
	ip -n "$ns" addr add "$net.1/24" dev "mhl${LAB_ID}$l" || lab_die "addr $net.1 failed"
	ip -n "$ns" route add default via "$net.254" || lab_die "default route failed"
	lab_postfix_instance "$ns" "$dir" "$host" "127.0.0.1"
	pf_set "$dir" "$ns" relayhost "[$net.254]"
}

# postfix_mta CASE DIR: local.mta names this running instance.
postfix_mta() {
	local name=$1 dir=$2 pid
	pid=$(lab_postfix_master_pid "$dir")
	expect "$OUTDIR/$name.json" "$name: mta is the running Postfix (pid $pid) of $dir" \
		".hosts[0].local.mta.product == \"postfix\" and .hosts[0].local.mta.config == \"$dir/main.cf\" and .hosts[0].local.mta.running == true and .hosts[0].local.mta.pid == $pid and .hosts[0].local.mta.smtp_listener == true and .hosts[0].local.mta.listen == \"127.0.0.1\""
}

lab_body() {
	lab_init
	lab_install_postfix
	OUTDIR=$LAB_TMP/out
	mkdir -p "$OUTDIR" && chmod 1777 "$OUTDIR"
	PEERNS=mhl-$LAB_ID-p
	lab_netns_add "$PEERNS"
	local N1=mhl-$LAB_ID-m1 N2=mhl-$LAB_ID-m2 N3=mhl-$LAB_ID-m3 J

	# ---- m1: relay-only, not masqueraded ---------------------------------
	mkcase "$N1" a 198.18.46 host-m1.lab.test "$LAB_TMP/pf1"
	run_local m1 "$N1" 1
	J=$OUTDIR/m1.json
	postfix_mta m1 "$LAB_TMP/pf1"
	expect "$J" "m1: not masqueraded, relayhost read" \
		'.hosts[0].local.mta.masquerade.domain == null and .hosts[0].local.mta.masquerade.known == true and .hosts[0].local.mta.masquerade.envelope == false and .hosts[0].local.mta.relayhost == "[198.18.46.254]"'
	expect "$J" "m1: host-qualified-sender (high) naming myorigin and relayhost" \
		'any(.hosts[0].findings[]; .id == "host-qualified-sender" and .severity == "high" and (.evidence | contains("myorigin = host-m1.lab.test (main.cf:")) and (.evidence | contains("relayhost = [198.18.46.254]")))'
	expect "$J" "m1: settings name main.cf lines" \
		'any(.hosts[0].local.mta.settings[]; .key == "relayhost" and (.where | test("^main.cf:[0-9]+$")))'
	grep -q '^mta: postfix (running)' "$OUTDIR/m1.out" || fail "m1: no 'mta: postfix (running)' line in the table"

	# m1 with a policy (severity override) and --html
	printf '{ "severity": { "host-qualified-sender": "low" } }\n' >"$LAB_TMP/policy.json"
	run_local m1-policy "$N1" 0 --policy "$LAB_TMP/policy.json" --html "$OUTDIR/m1.html"
	expect "$OUTDIR/m1-policy.json" "m1-policy: host-qualified-sender at low" \
		'any(.hosts[0].findings[]; .id == "host-qualified-sender" and .severity == "low")'
	[ -s "$OUTDIR/m1.html" ] && grep -q 'host-qualified-sender' "$OUTDIR/m1.html" ||
		fail "m1-policy: no HTML report naming host-qualified-sender"

	# ---- m2: myorigin = lab.test -----------------------------------------
	mkcase "$N2" b 198.18.47 host-m2.lab.test "$LAB_TMP/pf2"
	pf_set "$LAB_TMP/pf2" "$N2" myorigin lab.test
	run_local m2 "$N2" 0
	J=$OUTDIR/m2.json
	postfix_mta m2 "$LAB_TMP/pf2"
	expect "$J" "m2: masqueraded to lab.test" \
		'.hosts[0].local.mta.masquerade.domain == "lab.test" and .hosts[0].local.mta.masquerade.envelope == true'
	has_finding "$J" host-qualified-sender && fail "m2: host-qualified-sender with myorigin = lab.test"

	# ---- m3: masquerade_domains = lab.test ---------------------------------
	mkcase "$N3" c 198.18.48 host-m3.lab.test "$LAB_TMP/pf3"
	pf_set "$LAB_TMP/pf3" "$N3" masquerade_domains lab.test
	run_local m3 "$N3" 0
	J=$OUTDIR/m3.json
	postfix_mta m3 "$LAB_TMP/pf3"
	expect "$J" "m3: masqueraded to lab.test, envelope too" \
		'.hosts[0].local.mta.masquerade.domain == "lab.test" and .hosts[0].local.mta.masquerade.envelope == true'
	has_finding "$J" host-qualified-sender && fail "m3: host-qualified-sender with masquerade_domains"
	has_finding "$J" envelope-not-masqueraded && fail "m3: envelope-not-masqueraded with the default classes"

	# ---- root: configuration only ------------------------------------------
	local R=$LAB_TMP/root
	mkdir -p "$R/etc/postfix"
	LAB_RMDIRS+=("$R")
	cp "$LAB_TMP/pf1/main.cf" "$LAB_TMP/pf1/master.cf" "$R/etc/postfix/"
	printf 'mydestination =\n' >>"$R/etc/postfix/main.cf"
	printf '# /etc/aliases\npostmaster: root\nroot: mary\n' >"$R/etc/aliases"
	run_local root - 1 --root "$R"
	J=$OUTDIR/root.json
	expect "$J" "root: exposure unknown, nothing probed" \
		'.hosts[0].exposure == "unknown" and .hosts[0].local.interfaces == [] and .hosts[0].local.listeners == []'
	expect "$J" "root: mta from the root, not running" \
		".hosts[0].local.mta.product == \"postfix\" and .hosts[0].local.mta.config == \"$R/etc/postfix/main.cf\" and .hosts[0].local.mta.running == false and .hosts[0].local.mta.local_delivery == false"
	has_finding "$J" host-qualified-sender || fail "root: no host-qualified-sender"
	expect "$J" "root: local-aliases-unused naming aliases:2" \
		'any(.hosts[0].findings[]; .id == "local-aliases-unused" and (.evidence | contains("aliases:2")))'

	# ---- config: --config overrides the running instance's -----------------
	run_local config "$N1" 0 --config "$LAB_TMP/pf2/main.cf"
	expect "$OUTDIR/config.json" "config: m2's main.cf read" \
		".hosts[0].local.mta.config == \"$LAB_TMP/pf2/main.cf\" and .hosts[0].local.mta.masquerade.domain == \"lab.test\""

	# ---- audit: local + the sweep of this host's own addresses, merged -------
	# (bare `mailhole`, in m1's namespace, from its work folder: the default
	# mailhole-report.json and .html)
	mkdir -p "$OUTDIR/audit" && chmod 1777 "$OUTDIR/audit"
	(cd "$OUTDIR/audit" && timeout 60 ip netns exec "$N1" "$MAILHOLE" --quiet --timeout 500 \
		</dev/null >audit.out 2>audit.err)
	rc=$?
	[ "$rc" = 1 ] || fail "audit: exit $rc, 1 expected (host-qualified-sender): $(cat "$OUTDIR/audit/audit.err")"
	J=$OUTDIR/audit/mailhole-report.json
	[ -s "$OUTDIR/audit/mailhole-report.html" ] || fail "audit: no mailhole-report.html"
	expect "$J" "audit: the local record (198.18.46.1, its MTA) carries the sweep's ports too" \
		'[.hosts[] | select(.addr == "198.18.46.1") | select(.local.mta.product == "postfix" and ([.ports[] | .port] | sort) == [25, 465, 587])] | length == 1' '[.hosts[] | {addr, local: (.local != null), ports: [.ports[] | "\(.port):\(.state)"], findings: [.findings[].id]}]'
	expect "$J" "audit: 127.0.0.1:25 open in the sweep, and the local findings are there" \
		'([.hosts[] | select(.addr == "127.0.0.1") | .ports[] | select(.port == 25) | .state] == ["open"]) and ([.hosts[].findings[].id] | index("host-qualified-sender") != null)' '[.hosts[] | {addr, ports: [.ports[] | "\(.port):\(.state)"], findings: [.findings[].id]}]'

	# ---- usage -------------------------------------------------------------
	local rc err
	err=$("$MAILHOLE" local --probe 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 2 ] || fail "usage: local --probe exited $rc, 2 expected"
	case $err in *"needs --policy"*) ;; *) fail "usage: local --probe said: $err" ;; esac
	err=$("$MAILHOLE" local --probe --root / --policy /nonexistent-mh.json 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 2 ] || fail "usage: local --probe --root exited $rc, 2 expected"
	case $err in *"not with --root"*) ;; *) fail "usage: local --probe --root said: $err" ;; esac
	for args in "--root /nonexistent-mh" "--config /nonexistent-mh/main.cf" \
		"--config $LAB_TMP/policy.json" "--policy /nonexistent-mh.json"; do
		# shellcheck disable=SC2086
		"$MAILHOLE" local --quiet $args >/dev/null 2>"$OUTDIR/usage.err"
		rc=$?
		[ "$rc" = 2 ] || fail "usage: local $args exited $rc, 2 expected"
		[ "$(wc -l <"$OUTDIR/usage.err")" -ge 1 ] || fail "usage: local $args: no message"
	done

	if [ "$FAILS" -gt 0 ]; then
		echo "lab_local_mta: $FAILS failures"
		exit 1
	fi
	echo "lab_local_mta: all cases pass"
	exit 0
}

lab_run_isolated
rc=$?
exit "$rc"
