#!/bin/bash
# lab_local.sh MAILHOLE BUILD_DIR -- `mailhole local` inside network
# namespaces, against real Postfix instances.
#
# Each case has a namespace of its own; its interfaces are veth ends whose
# peers live in one shared peer namespace (links up, nothing there listens):
#   a  198.18.40.1/24 (+ default route)   Postfix inet_interfaces = all
#                                          -> exposed, not partial, exit 1
#      and again as nobody (setpriv): still succeeds, owners "unknown",
#      an "unseen" note
#   b  198.18.41.1/24                     Postfix on 127.0.0.1 only
#                                          -> loopback-only, exit 1 (the
#                                          lab's main.cf does not masquerade:
#                                          host-qualified-sender)
#   c  198.18.42.1/24                     Postfix, master.cf without the
#                                          "smtp inet" line -> none, exit 1
#                                          (host-qualified-sender only)
#   d  198.18.43.1/24 and 198.18.44.1/24  Postfix on 198.18.43.1 only, plus
#      200 more addresses on the second   -> exposed + partial-exposure,
#      interface                             exit 1, well under a second
# Every run must write exactly one host record keyed by the namespace's
# primary address, with the host name in "names", and list Postfix's master
# (with the pid of its pid file) as the owner of its listening sockets.
#
# Exit 0 pass, 1 fail (each difference printed), 77 skip (no root / netns,
# or `mailhole local` not wired in this build).
# Network safety: only 127.0.0.0/8 and 198.18.0.0/15 inside namespaces this
# script creates. LAB_KEEP=1 keeps the work dir.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# MAILHOLE and BUILD_DIR from the arguments, root and netns or skip, the ledger, fail()
lab_start "$@"

# expect FILE DESC FILTER [SHOW]: FILTER on the document must give true.
expect() {
	local file=$1 desc=$2 filter=$3 show=${4:-'.hosts[0].local | {exposure, partial, interfaces: [.interfaces[] | "\(.name) \(.addr) \(.ports)"], listeners}'}
	if ! jq -e "$filter" "$file" >/dev/null 2>&1; then
		fail "$desc"
		echo "      check: $filter"
		echo "      got:   $(jq -c "$show" "$file" 2>&1 | head -c 900)"
	fi
	return 0
}

# run_local CASE NS EXPECTED_RC [PREFIX...]: mailhole local -o CASE.json in
# NS (PREFIX: e.g. setpriv ...); stdout/stderr in CASE.out / CASE.err.
# Sets RUN_MS to the wall time of the run.
RUN_MS=0
run_local() {
	local name=$1 ns=$2 want=$3 rc pid t0 t1
	shift 3
	t0=$(date +%s%N)
	timeout 30 ip netns exec "$ns" "$@" "$MAILHOLE" local -o "$OUTDIR/$name.json" \
		</dev/null >"$OUTDIR/$name.out" 2>"$OUTDIR/$name.err" &
	pid=$!
	LAB_PIDS+=("$pid")
	wait "$pid"
	rc=$?
	t1=$(date +%s%N)
	RUN_MS=$(((t1 - t0) / 1000000))
	echo "lab: $name: mailhole local in $ns -> exit $rc in ${RUN_MS} ms"
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

# common CASE ADDR: one host record, keyed by ADDR, named, command "local".
common() {
	local name=$1 addr=$2 J=$OUTDIR/$1.json
	expect "$J" "$name: schema, command local, complete" \
		'.schema == "mailhole/1" and .scan.command == "local" and .scan.complete == true' '.scan'
	expect "$J" "$name: exactly one host record" '.hosts | length == 1' '.hosts | length'
	expect "$J" "$name: keyed by the primary address $addr" \
		".hosts[0].addr == \"$addr\"" '.hosts[0].addr'
	expect "$J" "$name: the host name in names" \
		".hosts[0].names == [\"$HOSTNAME_NOW\"]" '.hosts[0].names'
	expect "$J" "$name: 127.0.0.1 and ::1 rows (lo)" \
		'[.hosts[0].local.interfaces[] | select(.name == "lo") | .addr] | index("127.0.0.1") != null and index("::1") != null' \
		'[.hosts[0].local.interfaces[] | .addr]'
	expect "$J" "$name: every row has the three ports" \
		'all(.hosts[0].local.interfaces[]; (.ports | keys) == ["25", "465", "587"])'
	expect "$J" "$name: top-level exposure is the local one" \
		'.hosts[0].exposure == .hosts[0].local.exposure' '.hosts[0] | {exposure}'
}

# master_listener CASE PIDFILE_DIR ADDR: the listener ADDR:25 is owned by
# Postfix's master, with the pid of its pid file.
master_listener() {
	local name=$1 dir=$2 addr=$3 pid
	pid=$(lab_postfix_master_pid "$dir")
	expect "$OUTDIR/$name.json" "$name: listener $addr:25 owned by master (pid $pid)" \
		"any(.hosts[0].local.listeners[]; .addr == \"$addr\" and .port == 25 and .process == \"master\" and .pid == $pid and (.exe | endswith(\"/master\")))" \
		'.hosts[0].local.listeners'
}

# pf_all NS DIR: the instance again with inet_interfaces = all (a change
# Postfix takes only at a restart); returns when it listens on 0.0.0.0:25.
pf_all() {
	local ns=$1 dir=$2 old i
	old=$(lab_postfix_master_pid "$dir")
	sed -i 's/^inet_interfaces = .*/inet_interfaces = all/' "$dir/main.cf"
	timeout 15 ip netns exec "$ns" postfix -c "$dir" stop </dev/null >>"$dir/start.log" 2>&1
	for ((i = 0; i < 100; i++)); do
		lab_alive "$old" || break
		sleep 0.1
	done
	lab_alive "$old" && lab_die "postfix in $dir did not stop"
	timeout 60 ip netns exec "$ns" postfix -c "$dir" start </dev/null >>"$dir/start.log" 2>&1 ||
		lab_die "postfix -c $dir start (inet_interfaces = all) failed"
	for ((i = 0; i < 100; i++)); do
		if ip netns exec "$ns" ss -Hltn 'sport = :25' | grep -qF ' 0.0.0.0:25 '; then
			lab_ledger pid "$(lab_postfix_master_pid "$dir")"
			return 0
		fi
		sleep 0.1
	done
	lab_die "postfix in $dir does not listen on 0.0.0.0:25"
}

has_finding() { # FILE ID
	jq -e --arg id "$2" 'any(.hosts[0].findings[]; .id == $id)' "$1" >/dev/null 2>&1
}

# A namespace with interfaces whose peers are in the peer namespace.
# mkns NS IFSUFFIX ADDR/PREFIX [IFSUFFIX ADDR/PREFIX ...]
mkns() {
	local ns=$1
	shift
	lab_netns_add "$ns"
	while [ $# -ge 2 ]; do
		lab_veth "$ns" "mhl${LAB_ID}$1" "$PEERNS" "mhl${LAB_ID}$1p"
		ip -n "$ns" addr add "$2" dev "mhl${LAB_ID}$1" || lab_die "addr $2 failed"
		shift 2
	done
}

lab_body() {
	lab_init
	lab_install_postfix
	OUTDIR=$LAB_TMP/out
	mkdir -p "$OUTDIR" && chmod 1777 "$OUTDIR"
	HOSTNAME_NOW=$(hostname)
	PEERNS=mhl-$LAB_ID-p
	lab_netns_add "$PEERNS"

	local NSA=mhl-$LAB_ID-a NSB=mhl-$LAB_ID-b NSC=mhl-$LAB_ID-c NSD=mhl-$LAB_ID-d J

	# ---- a: Postfix on all addresses -----------------------------------
	mkns "$NSA" a 198.18.40.1/24
	ip -n "$NSA" route add default via 198.18.40.254 || lab_die "default route failed"
	# lib.sh waits for the addresses it is given; "all" is set afterwards
	lab_postfix_instance "$NSA" "$LAB_TMP/pfa" host-a.lab.test "127.0.0.1"
	pf_all "$NSA" "$LAB_TMP/pfa"
	run_local a "$NSA" 1
	J=$OUTDIR/a.json
	common a 198.18.40.1
	expect "$J" "a: exposed, not partial" \
		'.hosts[0].local.exposure == "exposed" and .hosts[0].local.partial == false'
	expect "$J" "a: 198.18.40.1 and 127.0.0.1 listen on 25, not on 465/587" \
		'[.hosts[0].local.interfaces[] | select(.addr == "198.18.40.1" or .addr == "127.0.0.1") | .ports] | length == 2 and all(.[]; . == {"25": "listening", "465": "closed", "587": "closed"})'
	expect "$J" "a: the listener explains the table" '.hosts[0].local.listeners_agree == true'
	master_listener a "$LAB_TMP/pfa" 0.0.0.0
	has_finding "$J" exposed-smtp || fail "a: no exposed-smtp finding"
	has_finding "$J" partial-exposure && fail "a: partial-exposure where Postfix listens on all"
	expect "$J" "a: exposed-smtp evidence names 198.18.40.1:25" \
		'any(.hosts[0].findings[]; .id == "exposed-smtp" and (.evidence | contains("198.18.40.1:25")))' \
		'.hosts[0].findings'
	expect "$J" "a: as root, nothing unseen about owners" \
		'all(.hosts[0].local.unseen[]; (contains("owner") | not))' '.hosts[0].local.unseen'
	grep -q 'exposure: exposed' "$OUTDIR/a.out" || fail "a: no 'exposure: exposed' in the table"

	# a, unprivileged: succeeds, owners unknown, said in "unseen"
	run_local a-nobody "$NSA" 1 setpriv --reuid=nobody --regid=nogroup --clear-groups
	J=$OUTDIR/a-nobody.json
	common a-nobody 198.18.40.1
	expect "$J" "a-nobody: still exposed" '.hosts[0].local.exposure == "exposed"'
	expect "$J" "a-nobody: the listener is there, its owner unknown" \
		'any(.hosts[0].local.listeners[]; .addr == "0.0.0.0" and .port == 25 and .process == "unknown" and .pid == null)' \
		'.hosts[0].local.listeners'
	expect "$J" "a-nobody: unseen says what root would show" \
		'(.hosts[0].local.unseen | length) > 0 and any(.hosts[0].local.unseen[]; contains("root"))' \
		'.hosts[0].local.unseen'

	# ---- b: loopback only ----------------------------------------------
	mkns "$NSB" b 198.18.41.1/24
	lab_postfix_instance "$NSB" "$LAB_TMP/pfb" host-b.lab.test "127.0.0.1"
	# exit 1: host-qualified-sender (myorigin = $myhostname on a host that
	# accepts no mail from the network; lab_local_mta.sh checks it in detail)
	run_local b "$NSB" 1
	J=$OUTDIR/b.json
	common b 198.18.41.1
	expect "$J" "b: loopback-only, not partial" \
		'.hosts[0].local.exposure == "loopback-only" and .hosts[0].local.partial == false'
	expect "$J" "b: 198.18.41.1 closed on 25" \
		'any(.hosts[0].local.interfaces[]; .addr == "198.18.41.1" and .ports["25"] == "closed")'
	master_listener b "$LAB_TMP/pfb" 127.0.0.1
	has_finding "$J" loopback-only || fail "b: no loopback-only finding"
	has_finding "$J" exposed-smtp && fail "b: exposed-smtp on a loopback-only host"
	has_finding "$J" host-qualified-sender || fail "b: no host-qualified-sender (not masqueraded)"

	# ---- c: no smtpd at all --------------------------------------------
	mkns "$NSC" c 198.18.42.1/24
	lab_postfix_instance "$NSC" "$LAB_TMP/pfc" host-c.lab.test "127.0.0.1"
	sed -i '/^smtp[[:space:]]\+inet/d' "$LAB_TMP/pfc/master.cf"
	timeout 30 ip netns exec "$NSC" postfix -c "$LAB_TMP/pfc" reload </dev/null >>"$LAB_TMP/pfc/start.log" 2>&1 ||
		lab_die "postfix reload (c) failed"
	local i
	for ((i = 0; i < 100; i++)); do
		[ -z "$(ip netns exec "$NSC" ss -Hltn 'sport = :25')" ] && break
		sleep 0.1
	done
	[ -z "$(ip netns exec "$NSC" ss -Hltn 'sport = :25')" ] || lab_die "c: smtpd still listens"
	run_local c "$NSC" 1
	J=$OUTDIR/c.json
	common c 198.18.42.1
	expect "$J" "c: exposure none, no listeners, only the configuration's finding" \
		'.hosts[0].local.exposure == "none" and .hosts[0].local.listeners == [] and [.hosts[0].findings[].id] == ["host-qualified-sender"]'
	lab_alive "$(lab_postfix_master_pid "$LAB_TMP/pfc")" || fail "c: Postfix master not running (the case is void)"

	# ---- d: two interfaces, one listens; many addresses ----------------
	mkns "$NSD" d 198.18.43.1/24 e 198.18.44.1/24
	for ((i = 2; i < 202; i++)); do
		printf 'address add 198.18.45.%d/32 dev mhl%se\n' $((i % 254 + 1)) "$LAB_ID"
	done | sort -u | ip -n "$NSD" -batch - || lab_die "d: extra addresses failed"
	lab_postfix_instance "$NSD" "$LAB_TMP/pfd" host-d.lab.test "198.18.43.1"
	run_local d "$NSD" 1
	J=$OUTDIR/d.json
	common d 198.18.43.1
	expect "$J" "d: exposed and partial" \
		'.hosts[0].local.exposure == "exposed" and .hosts[0].local.partial == true'
	expect "$J" "d: 198.18.43.1 listens, 198.18.44.1 does not" \
		'any(.hosts[0].local.interfaces[]; .addr == "198.18.43.1" and .ports["25"] == "listening") and any(.hosts[0].local.interfaces[]; .addr == "198.18.44.1" and .ports["25"] == "closed")'
	expect "$J" "d: 200 rows more than the two interfaces" \
		'(.hosts[0].local.interfaces | length) >= 204' '.hosts[0].local.interfaces | length'
	master_listener d "$LAB_TMP/pfd" 198.18.43.1
	has_finding "$J" exposed-smtp || fail "d: no exposed-smtp finding"
	has_finding "$J" partial-exposure || fail "d: no partial-exposure finding"
	expect "$J" "d: partial-exposure evidence names both interfaces" \
		"any(.hosts[0].findings[]; .id == \"partial-exposure\" and (.evidence | contains(\"mhl${LAB_ID}d\")) and (.evidence | contains(\"mhl${LAB_ID}e\")))" \
		'.hosts[0].findings'
	[ "$RUN_MS" -lt 1000 ] || fail "d: $RUN_MS ms for ~205 addresses x 3 ports (under 1000 expected)"

	# ---- usage -----------------------------------------------------------
	local rc err
	# --probe needs the policy's collector (lab_probe.sh runs it for real)
	err=$("$MAILHOLE" local --probe 2>&1 >/dev/null)
	rc=$?
	[ "$rc" = 2 ] || fail "usage: local --probe exited $rc, 2 expected"
	case $err in *"needs --policy"*) ;; *) fail "usage: local --probe said: $err" ;; esac
	"$MAILHOLE" local --bogus >/dev/null 2>&1
	rc=$?
	[ "$rc" = 2 ] || fail "usage: local --bogus exited $rc, 2 expected"

	if [ "$FAILS" -gt 0 ]; then
		echo "lab_local: $FAILS failures"
		exit 1
	fi
	echo "lab_local: all cases pass"
	exit 0
}

lab_run_isolated
rc=$?
exit "$rc"
