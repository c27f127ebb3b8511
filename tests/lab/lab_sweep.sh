#!/bin/bash
# lab_sweep.sh MAILHOLE BUILD_DIR -- the network sweep against real and
# misbehaving SMTP servers in network namespaces.
#
#   scanner ns  198.18.0.1/30 --veth-- 198.18.0.2/30  target ns
#               routes 198.18.20.0/23 via 198.18.0.2  (ip_forward on)
#   target ns, all /32 on lo:
#     198.18.20.2, .3    Postfix (one instance, inet_interfaces = both)
#     198.18.20.4        exists, nothing listens: closed
#     198.18.20.10..18   mh-badsmtp, one mode each (see MODES below)
#     198.18.21.0/24     blackhole route: never answers, filtered
#
# Run 1: mailhole scan 198.18.20.0/27 198.18.21.1 (port 25): the hosts with
#        an open port, their SMTP records, the JSONL stream.
# Run 2: the same with --all -p 25,587: closed and filtered ports.
# Run 3: IPv6 (ULA inside the lab): fd00:18:20::/120, a bytewise server on
#        ::15 and a closed address ::4.
# Run 4: SIGTERM in the middle of a slow sweep: the document is written,
#        marked complete: false, and agrees with the JSONL stream.
# Run 5: a policy (mail server, severity override, suppressions in force
#        and expired, an exclude) and --html from the same run.
# Then, outside the lab's shell: nothing the lab started is left.
#
# Exit 0 pass, 1 fail (each difference printed), 77 skip (no root / netns).
# LAB_KEEP=1 keeps the work dir (outputs, logs) for a look afterwards.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# MAILHOLE and BUILD_DIR from the arguments, root and netns or skip, the ledger, fail()
lab_start "$@"

case $BUILD_DIR in /*) ;; *) BUILD_DIR=$PWD/$BUILD_DIR ;; esac
BADSMTP=$BUILD_DIR/mh-badsmtp
[ -x "$BADSMTP" ] || lab_die "no mh-badsmtp at $BADSMTP (build the mh-badsmtp target)"

NET=198.18.20
BLACKHOLE=198.18.21.1
PF_ADDRS="$NET.2 $NET.3"
CLOSED=$NET.4
V6NET=fd00:18:20
# address:mode of the misbehaving servers
MODES="$NET.10:slow $NET.11:endless $NET.12:binary $NET.13:silent $NET.14:reset
$NET.15:bytewise $NET.16:greet421 $NET.17:greet554 $NET.18:ehlo500"

# expect_doc FILE DESC FILTER [SHOW]: FILTER on the whole document must give
# true; on failure, SHOW (a jq filter) says what the document has.
expect_doc() {
	local file=$1 desc=$2 filter=$3 show=${4:-}
	if ! jq -e "$filter" "$file" >/dev/null 2>&1; then
		fail "$desc"
		echo "      check: $filter"
		[ -n "$show" ] && echo "      got:   $(jq -c "$show" "$file" 2>&1 | head -c 600)"
	fi
	return 0
}

# expect_port FILE ADDR PORT DESC FILTER: FILTER on the port record of
# ADDR:PORT (.port, .state, .smtp, ...) must give true.
expect_port() {
	local file=$1 addr=$2 port=$3 desc=$4 filter=$5 rec
	rec=$(jq -c --arg a "$addr" --argjson p "$port" \
		'[.hosts[]? | select(.addr == $a) | .ports[]? | select(.port == $p)] | first' "$file" 2>/dev/null)
	if [ -z "$rec" ] || [ "$rec" = null ]; then
		fail "$addr:$port $desc: no such port record"
		return
	fi
	if ! jq -e "$filter" >/dev/null 2>&1 <<<"$rec"; then
		fail "$addr:$port $desc"
		echo "      check: $filter"
		echo "      got:   ${rec:0:600}"
	fi
}

# run_scan NAME ARGS...: mailhole in the scanner namespace; stdout and stderr
# kept in NAME.out / NAME.err. Exit 0 or 1 is fine, anything else a failure.
run_scan() {
	local name=$1 rc
	shift
	local t0=$SECONDS pid
	# in the background, so that a SIGTERM to the lab is handled at once
	# (the cleanup stops the scan by its pid)
	timeout 120 ip netns exec "$SCANNS" "$MAILHOLE" scan "$@" \
		</dev/null >"$LAB_TMP/$name.out" 2>"$LAB_TMP/$name.err" &
	pid=$!
	LAB_PIDS+=("$pid")
	wait "$pid"
	rc=$?
	echo "lab: $name: mailhole scan $* -> exit $rc in $((SECONDS - t0)) s"
	if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
		if [ "$rc" = 124 ]; then
			fail "$name: mailhole did not finish within 120 s"
		else
			fail "$name: mailhole exited $rc (0 or 1 expected)"
		fi
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
	ip -n "$SCANNS" route add 198.18.20.0/23 via 198.18.0.2 || lab_die "scanner route failed"
	ip -n "$TGTNS" addr add 198.18.0.2/30 dev "mhl${LAB_ID}t" || lab_die "target address failed"
	local a ent
	for a in $PF_ADDRS $CLOSED; do
		ip -n "$TGTNS" addr add "$a/32" dev lo || lab_die "addr $a failed"
	done
	for ent in $MODES; do
		ip -n "$TGTNS" addr add "${ent%%:*}/32" dev lo || lab_die "addr $ent failed"
	done
	ip netns exec "$TGTNS" sysctl -q -w net.ipv4.ip_forward=1 || lab_die "ip_forward failed"
	# IPv6: ULA on the link (no DAD wait) and on lo in the target namespace
	ip -n "$SCANNS" addr add fd00:18::1/64 dev "mhl${LAB_ID}s" nodad || lab_die "v6 addr failed"
	ip -n "$TGTNS" addr add fd00:18::2/64 dev "mhl${LAB_ID}t" nodad || lab_die "v6 addr failed"
	ip -n "$SCANNS" route add fd00:18:20::/64 via fd00:18::2 || lab_die "v6 route failed"
	ip -n "$TGTNS" addr add "$V6NET::15/128" dev lo || lab_die "v6 addr failed"
	ip -n "$TGTNS" addr add "$V6NET::4/128" dev lo || lab_die "v6 addr failed"
	ip -n "$TGTNS" route add blackhole 198.18.21.0/24 || lab_die "blackhole route failed"

	local hosts=("198.18.0.1 scanner.lab.test scanner" "$NET.2 mx1.lab.test mx1"
		"$NET.3 mx1-b.lab.test mx1-b" "$NET.4 closed.lab.test closed")
	for ent in $MODES; do
		hosts+=("${ent%%:*} ${ent#*:}.lab.test ${ent#*:}")
	done
	lab_netns_hosts "$SCANNS" "${hosts[@]}"
	lab_netns_hosts "$TGTNS" "${hosts[@]}"

	lab_postfix_instance "$TGTNS" "$LAB_TMP/mx1" mx1.lab.test "$NET.2, $NET.3"

	local bargs=(-P "$LAB_TMP/badsmtp.pid")
	for ent in $MODES; do
		bargs+=(-l "${ent%%:*}:25=${ent#*:}")
	done
	bargs+=(-l "[$V6NET::15]:25=bytewise")
	lab_spawn "$TGTNS" "$LAB_TMP/badsmtp.pid" "$LAB_TMP/badsmtp.log" "$BADSMTP" "${bargs[@]}"

	# ---- run 1: port 25, only hosts with an open port -------------------
	local J1=$LAB_TMP/run1.json L1=$LAB_TMP/run1.jsonl
	if run_scan run1 "$NET.0/27" "$BLACKHOLE" --timeout 1000 --session-timeout 4000 \
		--quiet -o "$J1" --jsonl "$L1"; then
		check_run1 "$J1" "$L1"
	fi

	# ---- run 2: --all, ports 25 and 587 ---------------------------------
	local J2=$LAB_TMP/run2.json
	if run_scan run2 "$NET.0/27" "$BLACKHOLE" --all -p 25,587 --timeout 1000 \
		--session-timeout 4000 --quiet -o "$J2"; then
		check_run2 "$J2"
	fi

	# ---- run 3: IPv6 -------------------------------------------------------
	local J3=$LAB_TMP/run3.json
	if run_scan run3 "$V6NET::/120" --all --timeout 1000 --session-timeout 4000 --quiet \
		-o "$J3"; then
		check_run3 "$J3"
	fi

	# ---- run 4: SIGTERM in the middle -------------------------------------
	run_interrupted

	# ---- run 5: policy and HTML -----------------------------------------------
	local P=$LAB_TMP/policy.json J5=$LAB_TMP/run5.json H5=$LAB_TMP/run5.html
	cat >"$P" <<EOF
{
  "domain": "lab.test",
  "mail_servers": ["$NET.2", "bytewise.lab.test"],
  "severity": { "mta-version-disclosed": "low" },
  "exclude": ["$NET.18"],
  "suppress": [
    { "rule": "exposed-smtp", "host": "$NET.3", "reason": "lab: accepted", "until": "2999-12-31" },
    { "rule": "exposed-smtp", "host": "$NET.10", "reason": "lab: old", "until": "2001-01-01" }
  ]
}
EOF
	if run_scan run5 "$NET.0/27" --policy "$P" --timeout 1000 --session-timeout 4000 --quiet \
		-o "$J5" --html "$H5"; then
		check_run5 "$J5" "$H5"
	fi

	if [ "$FAILS" != 0 ]; then
		echo "lab: $FAILS check(s) failed; scanner stderr:"
		sed 's/^/      /' "$LAB_TMP"/run*.err 2>/dev/null | head -n 20
		exit 1
	fi
	exit 0
}

check_common() {
	local J=$1 run=$2
	expect_doc "$J" "$run: .schema == \"mailhole/1\"" '.schema == "mailhole/1"'
	expect_doc "$J" "$run: .scan.complete == true" '.scan.complete == true' '.scan'
	expect_doc "$J" "$run: every host has .addr and .ports[], every port .port and .state" \
		'(.hosts | type == "array") and all(.hosts[]; (.addr | type == "string")
		 and (.ports | type == "array")
		 and all(.ports[]; has("port") and has("state")))'
}

check_run1() {
	local J=$1 L=$2 a ent mode
	jq -e . "$J" >/dev/null 2>&1 || {
		fail "run1: $J is missing or not JSON"
		return
	}
	check_common "$J" run1

	local want got
	want=$(for ent in $PF_ADDRS $MODES; do printf '%s\n' "${ent%%:*}"; done | sort | paste -sd' ')
	got=$(jq -r '[.hosts[].addr] | sort | .[]' "$J" | paste -sd' ')
	[ "$want" = "$got" ] || {
		fail "run1: .hosts[] should be exactly the hosts with an open port"
		echo "      want: $want"
		echo "      got:  $got"
	}
	expect_doc "$J" "run1: every port record has port, state, rtt_ms, smtp; only port 25" \
		'all(.hosts[]; (.ports | length == 1) and all(.ports[];
		 has("port") and has("state") and has("rtt_ms") and has("smtp") and .port == 25))'
	expect_doc "$J" "run1: .summary.open_ports == 11" '.summary.open_ports == 11' '.summary'

	for a in $PF_ADDRS; do
		expect_port "$J" "$a" 25 "postfix: open, rtt_ms a number" \
			'.state == "open" and (.rtt_ms | type == "number")'
		expect_port "$J" "$a" 25 "postfix: .smtp.code == 220" '.smtp.code == 220'
		expect_port "$J" "$a" 25 "postfix: banner contains Postfix" \
			'.smtp.banner | type == "string" and contains("Postfix")'
		expect_port "$J" "$a" 25 "postfix: .smtp.mta.product == \"postfix\"" \
			'.smtp.mta.product == "postfix"'
		expect_port "$J" "$a" 25 "postfix: .smtp.ehlo.code == 250" '.smtp.ehlo.code == 250'
		expect_port "$J" "$a" 25 "postfix: capabilities have PIPELINING and SIZE..." \
			'(.smtp.ehlo.capabilities | index(["PIPELINING"]) != null)
			 and any(.smtp.ehlo.capabilities[]; startswith("SIZE"))'
		expect_port "$J" "$a" 25 "postfix: .smtp.error == null" '.smtp.error == null'
	done

	for ent in $MODES; do
		a=${ent%%:*}
		mode=${ent#*:}
		expect_port "$J" "$a" 25 "$mode: open, rtt_ms a number" \
			'.state == "open" and (.rtt_ms | type == "number")'
		case $mode in
		slow)
			expect_port "$J" "$a" 25 "slow: error banner-timeout or session-timeout" \
				'.smtp.error == "banner-timeout" or .smtp.error == "session-timeout"'
			;;
		endless)
			expect_port "$J" "$a" 25 "endless: error line-too-long" \
				'.smtp.error == "line-too-long"'
			;;
		binary)
			expect_port "$J" "$a" 25 "binary: error binary-in-reply or bad-reply-code" \
				'.smtp.error == "binary-in-reply" or .smtp.error == "bad-reply-code"'
			;;
		silent)
			expect_port "$J" "$a" 25 "silent: error banner-timeout" \
				'.smtp.error == "banner-timeout"'
			;;
		reset)
			expect_port "$J" "$a" 25 "reset: error connection-reset or closed-before-banner" \
				'.smtp.error == "connection-reset" or .smtp.error == "closed-before-banner"'
			;;
		bytewise)
			expect_port "$J" "$a" 25 "bytewise: no error" '.smtp.error == null'
			expect_port "$J" "$a" 25 "bytewise: code 220" '.smtp.code == 220'
			expect_port "$J" "$a" 25 "bytewise: banner has bytewise.lab.test" \
				'.smtp.banner | type == "string" and contains("bytewise.lab.test")'
			expect_port "$J" "$a" 25 "bytewise: ehlo.code 250" '.smtp.ehlo.code == 250'
			expect_port "$J" "$a" 25 "bytewise: the 3 capabilities, reassembled" \
				'.smtp.ehlo.capabilities == ["PIPELINING", "SIZE 10240000", "8BITMIME"]'
			;;
		greet421)
			expect_port "$J" "$a" 25 "greet421: code 421" '.smtp.code == 421'
			expect_port "$J" "$a" 25 "greet421: error greeting-refused" \
				'.smtp.error == "greeting-refused"'
			;;
		greet554)
			expect_port "$J" "$a" 25 "greet554: code 554" '.smtp.code == 554'
			expect_port "$J" "$a" 25 "greet554: error greeting-refused" \
				'.smtp.error == "greeting-refused"'
			;;
		ehlo500)
			expect_port "$J" "$a" 25 "ehlo500: no error" '.smtp.error == null'
			expect_port "$J" "$a" 25 "ehlo500: code 220" '.smtp.code == 220'
			expect_port "$J" "$a" 25 "ehlo500: ehlo.code 250 (via HELO)" '.smtp.ehlo.code == 250'
			expect_port "$J" "$a" 25 "ehlo500: .smtp.ehlo.helo == true" '.smtp.ehlo.helo == true'
			;;
		esac
	done

	# JSONL: one JSON object per line, one line per reported host.
	if [ ! -f "$L" ]; then
		fail "run1: no JSONL file $L"
		return
	fi
	local n=0 bad=0 line addrs=()
	while IFS= read -r line || [ -n "$line" ]; do
		n=$((n + 1))
		if ! jq -e 'type == "object"' >/dev/null 2>&1 <<<"$line"; then
			fail "run1: JSONL line $n is not one JSON object: ${line:0:200}"
			bad=1
			continue
		fi
		addrs+=("$(jq -r '.addr // empty' <<<"$line")")
	done <"$L"
	local nh
	nh=$(jq '.hosts | length' "$J")
	[ "$n" = "$nh" ] || fail "run1: JSONL has $n lines, the document $nh hosts"
	if [ "$bad" = 0 ]; then
		got=$(printf '%s\n' "${addrs[@]}" | sed '/^$/d' | sort | paste -sd' ')
		[ "$got" = "$want" ] || {
			fail "run1: JSONL .addr values differ from the hosts with an open port"
			echo "      want: $want"
			echo "      got:  $got"
		}
	fi
}

check_run2() {
	local J=$1 a ent
	jq -e . "$J" >/dev/null 2>&1 || {
		fail "run2: $J is missing or not JSON"
		return
	}
	check_common "$J" run2
	expect_doc "$J" "run2: .summary.open_ports == 11" '.summary.open_ports == 11' '.summary'
	expect_port "$J" "$CLOSED" 25 "nothing listens: state closed" '.state == "closed"'
	expect_port "$J" "$CLOSED" 587 "nothing listens: state closed" '.state == "closed"'
	expect_port "$J" "$BLACKHOLE" 25 "blackholed: state filtered" '.state == "filtered"'
	expect_port "$J" "$BLACKHOLE" 587 "blackholed: state filtered" '.state == "filtered"'
	for ent in $PF_ADDRS $MODES; do
		a=${ent%%:*}
		expect_port "$J" "$a" 25 "run2: state open" '.state == "open"'
		expect_port "$J" "$a" 587 "run2: nothing on 587: state closed" '.state == "closed"'
	done
	expect_doc "$J" "run2 (--all): open ports only where run 1 found them" \
		'[.hosts[] | select(any(.ports[]; .state == "open")) | .addr] | length == 11' \
		'[.hosts[] | select(any(.ports[]; .state == "open")) | .addr] | sort'
}

check_run3() {
	local J=$1
	check_common "$J" run3
	expect_doc "$J" "run3: 256 IPv6 targets, one open" \
		'.scan.targets == 256 and .summary.open_ports == 1' '.summary'
	expect_port "$J" "$V6NET::15" 25 "v6 bytewise: open, greeted, 3 capabilities" \
		'.state == "open" and .smtp.code == 220 and .smtp.error == null
		 and .smtp.ehlo.capabilities == ["PIPELINING", "SIZE 10240000", "8BITMIME"]'
	expect_port "$J" "$V6NET::4" 25 "v6 nothing listens: closed" '.state == "closed"'
}

check_run5() {
	local J=$1 H=$2
	check_common "$J" run5
	expect_doc "$J" "run5: the excluded $NET.18 is not swept" \
		'[.hosts[].addr] | index("'"$NET.18"'") == null' '[.hosts[].addr]'
	expect_doc "$J" "run5: $NET.2 is a mail server with no exposed-smtp" \
		'.hosts[] | select(.addr == "'"$NET.2"'") | .role == "mail-server"
		 and ([.findings[].id] | index("exposed-smtp") == null)'
	expect_doc "$J" "run5: $NET.3's exposed-smtp is suppressed with its reason" \
		'.hosts[] | select(.addr == "'"$NET.3"'") |
		 ([.findings[].id] | index("exposed-smtp") == null)
		 and (.suppressed[0].id == "exposed-smtp") and (.suppressed[0].reason == "lab: accepted")'
	expect_doc "$J" "run5: $NET.10's expired suppression no longer hides the finding" \
		'.hosts[] | select(.addr == "'"$NET.10"'") | .findings[] |
		 select(.id == "exposed-smtp") | .suppression_expired == "2001-01-01"'
	expect_doc "$J" "run5: summary counts only what is not suppressed" \
		'.summary.findings.high == ([.hosts[].findings[] | select(.severity == "high")] | length)'
	if [ ! -s "$H" ]; then
		fail "run5: no HTML report at $H"
	else
		grep -q 'Content-Security-Policy' "$H" || fail "run5: HTML without a CSP"
		grep -q "$NET.15" "$H" || fail "run5: HTML does not list $NET.15"
	fi
}

# A slow sweep (--rate 20 over a /24) stopped by SIGTERM after about two
# seconds: mailhole must stop, write the document marked complete: false,
# and list the same hosts as its JSONL stream.
run_interrupted() {
	local J=$LAB_TMP/run4.json L=$LAB_TMP/run4.jsonl pid rc
	timeout 60 ip netns exec "$SCANNS" "$MAILHOLE" scan "$NET.0/24" --rate 20 --all \
		--timeout 1000 --session-timeout 30000 --quiet -o "$J" --jsonl "$L" \
		</dev/null >"$LAB_TMP/run4.out" 2>"$LAB_TMP/run4.err" &
	pid=$!
	LAB_PIDS+=("$pid")
	sleep 2
	kill -TERM "$pid" 2>/dev/null # timeout(1) passes it on to mailhole
	wait "$pid"
	rc=$?
	echo "lab: run4: SIGTERM after 2 s -> exit $rc"
	if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
		fail "run4: mailhole exited $rc after SIGTERM (0 or 1 expected)"
		sed 's/^/      stderr: /' "$LAB_TMP/run4.err" | head -n 5
		return
	fi
	expect_doc "$J" "run4: .schema and .scan.complete == false" \
		'.schema == "mailhole/1" and .scan.complete == false' '.scan'
	expect_doc "$J" "run4: fewer hosts done than targets, and some done" \
		'.scan.hosts_done > 0 and .scan.hosts_done < 256' '.scan'
	grep -q 'interrupted' "$LAB_TMP/run4.err" || fail "run4: no 'interrupted' message on stderr"
	local n nh
	n=$(grep -c . "$L" 2>/dev/null)
	nh=$(jq '.hosts | length' "$J" 2>/dev/null)
	[ "$n" = "$nh" ] || fail "run4: JSONL has $n lines, the document $nh hosts"
}

# The lab runs in a subshell whose EXIT trap cleans up; this shell passes
# it SIGTERM / SIGINT / SIGHUP, waits for it, then checks that the trap
# left nothing behind.
lab_run_isolated
rc=$?
case $rc in
0) echo "PASS: lab_sweep" ;;
77) ;;
*) echo "lab_sweep: FAILED (exit $rc)" ;;
esac
exit "$rc"
