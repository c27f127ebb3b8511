#!/bin/bash
# lab_local_cis.sh MAILHOLE BUILD_DIR -- where the CIS benchmark's "MTA is
# configured for local-only mode" check and OpenSCAP's has_nonlocal_mta rule
# would say one thing and `mailhole local` another (docs/cis.md says why).
#
# One network namespace: a veth with 198.18.70.1/24 and fd00:18:70::1/64 into
# a peer namespace where nothing listens. For each case, a small listener
# (python3: sockets bound and listening, nothing spoken) holds the sockets;
# then, inside the namespace:
#   cis    the CIS audit's logic: in `ss -lntu`, a line with ":25" followed
#          by a blank, other than 127.0.0.1:25 or [::1]:25, fails the check;
#   scap   has_nonlocal_mta's logic: a TCP listener on local port 25 whose
#          local address is neither 127.0.0.1 nor ::1 fails the rule;
#   mailhole local: exposure, findings.
#
#   case              sockets                        cis   scap  mailhole
#   loopback          127.0.0.1:25, [::1]:25         pass  pass  loopback-only   (agree)
#   msa-587           127.0.0.1:25, 0.0.0.0:587      pass  pass  exposed         (587: the default MSA of Sendmail)
#   smtps-465         127.0.0.1:25, [::]:465         pass  pass  exposed         (465, IPv4 and IPv6)
#   v6-any-25         [::]:25 (dual stack)           fail  fail  exposed         (agree)
#   v4mapped-lo       [::ffff:127.0.0.1]:25          fail  fail  loopback-only   (a loopback listener)
#   v4mapped-ext      [::ffff:198.18.70.1]:25        fail  fail  exposed         (agree; decoded right)
#   loopback-2        127.0.0.2:25                   fail  fail  loopback-only   (127.0.0.0/8 is loopback)
# Each verdict is asserted, so a change on either side shows.
#
# Exit 0 pass, 1 fail, 77 skip (no root / netns / python3 / ss). Network
# safety: only 127.0.0.0/8, 198.18.0.0/15 and fd00:18::/48 inside namespaces
# this script creates; the listeners accept nothing they read.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# MAILHOLE and BUILD_DIR from the arguments, root and netns or skip, the ledger, fail()
lab_start "$@"

PYTHON=$(command -v python3) || lab_skip "python3 is not installed"
command -v ss >/dev/null 2>&1 || lab_skip "ss (iproute2) is not installed"
if ! command -v jq >/dev/null 2>&1; then
	apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends jq \
		>/dev/null 2>&1 || lab_skip "jq is not installed and cannot be"
fi

# The CIS audit's logic (see the header): prints the offending lines; status
# 0 when the check fails.
cis_fails() {
	ip netns exec "$NS" ss -lntu | grep -E ':25\s' | grep -Ev '\s(127\.0\.0\.1|\[?::1\]?):25\s'
}

# has_nonlocal_mta's logic: prints the non-local TCP listeners on port 25;
# status 0 when the rule fails.
scap_fails() {
	local a bad=1
	while read -r a; do
		a=${a%:25}
		a=${a#[}
		a=${a%]}
		a=${a%%%*}
		if [ "$a" != 127.0.0.1 ] && [ "$a" != ::1 ]; then
			echo "$a"
			bad=0
		fi
	done < <(ip netns exec "$NS" ss -ltnH 'sport = :25' | awk '{print $4}')
	return $bad
}

# case NAME CIS SCAP EXPOSURE RC SPEC...: SPEC is FAMILY,ADDR,PORT.
check_case() {
	local name=$1 want_cis=$2 want_scap=$3 want_exp=$4 want_rc=$5 pidfile rc got
	shift 5
	pidfile=$LAB_TMP/$name.pid
	lab_spawn "$NS" "$pidfile" "$LAB_TMP/$name.log" "$PYTHON" "$LAB_TMP/listen.py" \
		"$pidfile" "$@"
	ip netns exec "$NS" ss -lntu >"$OUTDIR/$name.ss"
	if cis_fails >"$OUTDIR/$name.cis"; then got=fail; else got=pass; fi
	[ "$got" = "$want_cis" ] || fail "$name: the CIS check would $got, $want_cis expected ($(tr '\n' ' ' <"$OUTDIR/$name.cis"))"
	if scap_fails >"$OUTDIR/$name.scap"; then got=fail; else got=pass; fi
	[ "$got" = "$want_scap" ] || fail "$name: has_nonlocal_mta would $got, $want_scap expected"
	timeout 30 ip netns exec "$NS" "$MAILHOLE" local --quiet -o "$OUTDIR/$name.json" \
		</dev/null >"$OUTDIR/$name.out" 2>"$OUTDIR/$name.err"
	rc=$?
	[ "$rc" = "$want_rc" ] || fail "$name: mailhole exited $rc, $want_rc expected ($(head -c 300 "$OUTDIR/$name.err"))"
	got=$(jq -r '.hosts[0].exposure' "$OUTDIR/$name.json" 2>/dev/null)
	[ "$got" = "$want_exp" ] || fail "$name: mailhole says exposure $got, $want_exp expected: $(jq -c '.hosts[0] | {listeners: [.local.listeners[] | "\(.addr):\(.port)"], findings: [.findings[] | {id, evidence}]}' "$OUTDIR/$name.json" 2>&1 | head -c 600)"
	printf 'lab: %-14s cis %-4s scap %-4s mailhole %s\n' "$name" "$want_cis" "$want_scap" "$got"
	lab_stop_pid "$(head -n 1 "$pidfile")"
}

# expect NAME DESC FILTER: a jq filter on NAME's document.
expect() {
	jq -e "$3" "$OUTDIR/$1.json" >/dev/null 2>&1 ||
		fail "$1: $2: $(jq -c '[.hosts[0].findings[] | {id, evidence}]' "$OUTDIR/$1.json" 2>&1 | head -c 600)"
}

lab_body() {
	lab_init
	OUTDIR=$LAB_TMP/out
	mkdir -p "$OUTDIR"
	PEERNS=mhl-$LAB_ID-p
	NS=mhl-$LAB_ID-c
	lab_netns_add "$PEERNS"
	lab_netns_add "$NS"
	lab_veth "$NS" "mhl${LAB_ID}c" "$PEERNS" "mhl${LAB_ID}cp"
	ip -n "$NS" addr add 198.18.70.1/24 dev "mhl${LAB_ID}c" || lab_die "addr failed"
	ip -n "$NS" addr add fd00:18:70::1/64 dev "mhl${LAB_ID}c" nodad || lab_die "addr6 failed"
	cat >"$LAB_TMP/listen.py" <<'EOF'
# lab listener: binds and listens on every FAMILY,ADDR,PORT given, writes its
# pid file, then sleeps until killed. Accepts nothing, says nothing.
import os, socket, sys, time
socks = []
for spec in sys.argv[2:]:
    fam, addr, port = spec.split(",")
    s = socket.socket(socket.AF_INET6 if fam == "6" else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == "6":
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind((addr, int(port)))
    s.listen(16)
    socks.append(s)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % os.getpid())
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    time.sleep(3600)
EOF

	#          name         cis  scap exposure      rc  sockets
	check_case loopback     pass pass loopback-only 0 4,127.0.0.1,25 6,::1,25
	expect loopback "loopback-only naming 127.0.0.1:25" \
		'any(.hosts[0].findings[]; .id == "loopback-only" and (.evidence | contains("127.0.0.1:25")))'
	check_case msa-587      pass pass exposed       1 4,127.0.0.1,25 4,0.0.0.0,587
	expect msa-587 "exposed-smtp naming 198.18.70.1:587 only" \
		'any(.hosts[0].findings[]; .id == "exposed-smtp" and .evidence == "listening: 198.18.70.1:587")'
	check_case smtps-465    pass pass exposed       1 4,127.0.0.1,25 6,::,465
	expect smtps-465 "exposed-smtp naming 465 on IPv4 and IPv6" \
		'any(.hosts[0].findings[]; .id == "exposed-smtp" and (.evidence | contains("198.18.70.1:465")) and (.evidence | contains("[fd00:18:70::1]:465")))'
	check_case v6-any-25    fail fail exposed       1 6,::,25
	expect v6-any-25 "the [::]:25 listener covers IPv4 too" \
		'any(.hosts[0].findings[]; .id == "exposed-smtp" and (.evidence | contains("198.18.70.1:25")) and (.evidence | contains("[fd00:18:70::1]:25")))'
	check_case v4mapped-lo  fail fail loopback-only 0 6,::ffff:127.0.0.1,25
	expect v4mapped-lo "the v4-mapped listener read as such, answering on 127.0.0.1" \
		'(.hosts[0].local.listeners | map(.addr) == ["::ffff:127.0.0.1"]) and any(.hosts[0].findings[]; .id == "loopback-only" and (.evidence | contains("127.0.0.1:25")))'
	check_case v4mapped-ext fail fail exposed       1 6,::ffff:198.18.70.1,25
	expect v4mapped-ext "the v4-mapped external listener, answering on 198.18.70.1 only" \
		'(.hosts[0].local.listeners | map(.addr) == ["::ffff:198.18.70.1"]) and any(.hosts[0].findings[]; .id == "exposed-smtp" and .evidence == "listening: 198.18.70.1:25")'
	check_case loopback-2   fail fail loopback-only 0 4,127.0.0.2,25
	expect loopback-2 "loopback-only naming 127.0.0.2:25" \
		'any(.hosts[0].findings[]; .id == "loopback-only" and (.evidence | contains("127.0.0.2:25"))) and (.hosts[0].local.interfaces | any(.addr == "127.0.0.2" and .loopback and .ports["25"] == "listening"))'

	if [ "$FAILS" -gt 0 ]; then
		echo "lab_local_cis: $FAILS failures"
		exit 1
	fi
	echo "lab_local_cis: all cases pass"
	exit 0
}

lab_run_isolated
rc=$?
exit "$rc"
