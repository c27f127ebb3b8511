#!/bin/bash
# lab_queue.sh MAILHOLE BUILD_DIR -- `mailhole queue` on a real Postfix
# relay's `postqueue -j` finds the black hole a real unmasqueraded host makes.
#
#   R  relay.lab.test   198.18.70.1/24  Postfix relay: smtpd on 198.18.70.1,
#                                       mynetworks 198.18.70.0/24, retries every
#                                       few seconds, maximal_queue_lifetime 1h
#   X  host-x.lab.test  198.18.70.7/24  Postfix with no smtpd (no "smtp inet" in
#                                       master.cf), relayhost = [198.18.70.1],
#                                       myorigin = $myhostname, nothing local
# On X, cron-like mail to bare "root" (and "postmaster") is qualified as
# root@host-x.lab.test and relayed; the relay tries to deliver it back to
# host-x, whose port 25 refuses: it stays deferred in the relay's queue.
#   3 messages, 4 recipients -> relay-queue-black-hole (high) on 198.18.70.7
#   (host-x.lab.test), the address taken from the delay reason, exit 1;
#   the lifetime from the relay's main.cf (1h) and "no delay warning";
#   from a file with --hosts; a policy severity override -> exit 0.
# Names: the committed Sendmail capture, read in R, where host-a.lab.test
#   resolves through R's /etc/hosts -> its record keyed by that address.
# Bad input: a truncated listing, binary junk, Postfix's text listing
# (postqueue -p) -> exit 2 and exactly one line on stderr naming the input
# and the line; the truncated one still writes the document with the
# messages read before the cut ("complete": false).
#
# Exit 0 pass, 1 fail, 77 skip (no root / netns). Network safety: only
# 198.18.70.0/24 inside namespaces this script creates.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# MAILHOLE and BUILD_DIR from the arguments, root and netns or skip, the ledger, fail()
lab_start "$@"

# expect FILE DESC FILTER
expect() {
	if ! jq -e "$3" "$1" >/dev/null 2>&1; then
		fail "$2"
		echo "      check: $3"
		echo "      got:   $(jq -c '{hosts: [.hosts[] | {addr, names, findings}], queue: .queue}' "$1" 2>&1 | head -c 2000)"
	fi
	return 0
}

# mq NAME WANT_RC ARGS...: mailhole queue ARGS (stdout, stderr to NAME.out/.err)
mq() {
	local name=$1 want=$2 rc
	shift 2
	timeout 30 "$MAILHOLE" queue "$@" </dev/null >"$OUT/$name.out" 2>"$OUT/$name.err"
	rc=$?
	echo "lab: $name: mailhole queue $* -> exit $rc"
	if [ "$rc" != "$want" ]; then
		fail "$name: exit $rc, $want expected"
		sed 's/^/      stderr: /' "$OUT/$name.err" | head -n 10
	fi
	return 0
}

# one_line NAME PATTERN: stderr of NAME is exactly one line matching PATTERN
one_line() {
	local n
	n=$(wc -l <"$OUT/$1.err")
	if [ "$n" != 1 ] || ! grep -qE "$2" "$OUT/$1.err"; then
		fail "$1: stderr is not one line matching '$2'"
		sed 's/^/      stderr: /' "$OUT/$1.err" | head -n 5
	fi
}

lab_body() {
	lab_init
	lab_install_postfix
	OUT=$LAB_TMP/out
	mkdir -p "$OUT"
	local R=mhl-$LAB_ID-r X=mhl-$LAB_ID-x
	local RD=$LAB_TMP/relay XD=$LAB_TMP/hostx i n

	lab_netns_add "$R"
	lab_netns_add "$X"
	lab_veth "$R" "mhl${LAB_ID}r" "$X" "mhl${LAB_ID}x"
	ip -n "$R" addr add 198.18.70.1/24 dev "mhl${LAB_ID}r" || lab_die "addr R"
	ip -n "$X" addr add 198.18.70.7/24 dev "mhl${LAB_ID}x" || lab_die "addr X"
	# host-a: only a name in R's hosts file (nothing there), for the Sendmail fixture
	lab_netns_hosts "$R" "198.18.70.1 relay.lab.test relay" "198.18.70.7 host-x.lab.test host-x" \
		"198.18.70.9 host-a.lab.test host-a"
	lab_netns_hosts "$X" "198.18.70.1 relay.lab.test relay" "198.18.70.7 host-x.lab.test host-x"

	# ---- the relay ---------------------------------------------------------
	lab_postfix_instance "$R" "$RD" relay.lab.test 198.18.70.1
	# postconf -e rewrites in place (a repeated parameter makes every daemon
	# warn, and postlogd then blocks on logging its own warning)
	postconf -c "$RD" -e 'mynetworks=127.0.0.0/8, 198.18.70.0/24' \
		'mydestination=relay.lab.test, localhost' maximal_queue_lifetime=1h \
		bounce_queue_lifetime=1h || lab_die "postconf relay"
	timeout 30 ip netns exec "$R" postfix -c "$RD" reload >>"$RD/start.log" 2>&1 ||
		lab_die "relay reload failed"

	# ---- host-x: relays everything, listens nowhere ------------------------
	lab_postfix_instance "$X" "$XD" host-x.lab.test 127.0.0.1
	postconf -c "$XD" -e 'relayhost=[198.18.70.1]' 'mydestination=' \
		'myorigin=$myhostname' || lab_die "postconf host-x"
	sed -i '/^smtp[[:space:]]\+inet/d' "$XD/master.cf"
	timeout 30 ip netns exec "$X" postfix -c "$XD" reload >>"$XD/start.log" 2>&1 ||
		lab_die "host-x reload failed"
	for ((i = 0; i < 50; i++)); do
		[ -z "$(ip netns exec "$X" ss -Hltn 'sport = :25')" ] && break
		sleep 0.1
	done
	[ -z "$(ip netns exec "$X" ss -Hltn 'sport = :25')" ] || lab_die "host-x still listens on 25"

	# ---- cron-like mail on host-x, to bare names ---------------------------
	local sm=(env MAIL_CONFIG="$XD" timeout 30 ip netns exec "$X" /usr/sbin/sendmail -i)
	printf 'Subject: cron 1\n\nbackup done\n' | "${sm[@]}" -f cron root || lab_die "submit 1"
	printf 'Subject: cron 2\n\ndisk 91%%\n' | "${sm[@]}" -f cron root postmaster || lab_die "submit 2"
	printf 'Subject: cron 3\n\nlogrotate\n' | "${sm[@]}" -f cron root || lab_die "submit 3"

	# the relay holds the 3 messages, every recipient deferred
	for ((i = 0; i < 120; i++)); do
		MAIL_CONFIG=$RD timeout 10 ip netns exec "$R" postqueue -j >"$OUT/relay.jsonl" 2>/dev/null
		n=$(jq -s '[.[].recipients[] | select(.delay_reason != null)] | length' "$OUT/relay.jsonl" 2>/dev/null)
		[ "$(wc -l <"$OUT/relay.jsonl")" = 3 ] && [ "$n" = 4 ] && break
		sleep 0.5
	done
	if [ "$n" != 4 ]; then
		tail -n 20 "$RD/maillog" "$XD/maillog" >&2
		lab_die "the relay's queue does not hold 4 deferred recipients after 60 s"
	fi
	grep -q 'Connection refused' "$OUT/relay.jsonl" || lab_die "no 'Connection refused' in the queue"
	lab_log "relay queue: $(jq -c '[.queue_id, [.recipients[] | .address]]' "$OUT/relay.jsonl" | tr '\n' ' ')"

	printf '{ "domain": "lab.test" }\n' >"$LAB_TMP/policy.json"
	printf '{ "domain": "lab.test", "severity": { "relay-queue-black-hole": "medium" } }\n' \
		>"$LAB_TMP/policy-medium.json"
	printf 'host-x.lab.test\n' >"$LAB_TMP/hosts"

	# ---- the black hole, from postqueue -j piped in --------------------------
	MAIL_CONFIG=$RD timeout 10 ip netns exec "$R" postqueue -j |
		timeout 30 "$MAILHOLE" queue - --policy "$LAB_TMP/policy.json" --main-cf "$RD/main.cf" \
			-o "$OUT/pipe.json" >"$OUT/pipe.out" 2>"$OUT/pipe.err"
	local rc=${PIPESTATUS[1]}
	echo "lab: pipe: postqueue -j | mailhole queue - --policy --main-cf -> exit $rc"
	[ "$rc" = 1 ] || { fail "pipe: exit $rc, 1 expected"; cat "$OUT/pipe.err"; }
	local J=$OUT/pipe.json
	expect "$J" "pipe: one host record, 198.18.70.7 named host-x.lab.test" \
		'.summary.hosts == 1 and .hosts[0].addr == "198.18.70.7" and .hosts[0].names == ["host-x.lab.test"]'
	expect "$J" "pipe: relay-queue-black-hole (high) with 4 recipients in 3 messages refused" \
		'.hosts[0].findings | length == 1 and .[0].id == "relay-queue-black-hole" and .[0].severity == "high" and (.[0].evidence | contains("host-x.lab.test: 4 recipients in 3 messages (4 connection-refused)"))'
	expect "$J" "pipe: the evidence says when Postfix gives up and that no one is warned" \
		'.hosts[0].findings[0].evidence | (contains("postfix gives up") and contains("no delay warning"))'
	expect "$J" "pipe: the destination: address from the delay reason, 1h lifetime from main.cf" \
		'.queue.destinations[0] | .domain == "host-x.lab.test" and .fleet and .addr == "198.18.70.7" and .addr_from == "delay reason" and .messages == 3 and .recipients == 4 and .reason_class == "connection-refused" and .gives_up_in_s <= 3600 and .gives_up_in_s > 3000'
	expect "$J" "pipe: queue section: format detected, complete, lifetime 3600 from main.cf, warns false" \
		'.queue.format == "postfix-json" and .queue.format_detected and .queue.complete and .queue.source == "stdin" and .queue.messages == 3 and .queue.lifetime.seconds == 3600 and .queue.lifetime.source == "main.cf maximal_queue_lifetime" and .queue.lifetime.warns == false'
	expect "$J" "pipe: the host record carries its destination" \
		'.hosts[0].queue[0].domain == "host-x.lab.test" and .hosts[0].queue[0].finding == "relay-queue-black-hole"'
	grep -q 'host-x.lab.test .* relay-queue-black-hole' "$OUT/pipe.out" ||
		fail "pipe: the table does not show host-x as relay-queue-black-hole"

	# ---- from a file, the fleet from --hosts, format named -------------------
	mq file 1 "$OUT/relay.jsonl" --format postfix-json --hosts "$LAB_TMP/hosts" -o "$OUT/file.json"
	expect "$OUT/file.json" "file: the same finding with --hosts" \
		'.hosts[0].addr == "198.18.70.7" and .hosts[0].findings[0].id == "relay-queue-black-hole" and .queue.format_detected == false'
	# a policy that lowers the rule: below --fail-on high
	mq medium 0 "$OUT/relay.jsonl" --policy "$LAB_TMP/policy-medium.json" -o "$OUT/medium.json"
	expect "$OUT/medium.json" "medium: the finding at medium" \
		'.hosts[0].findings[0].severity == "medium" and .summary.findings.medium == 1'
	mq medium-fail 1 "$OUT/relay.jsonl" --policy "$LAB_TMP/policy-medium.json" --fail-on medium
	# no fleet named: destinations listed, nothing found
	mq nofleet 0 "$OUT/relay.jsonl" -o "$OUT/nofleet.json"
	expect "$OUT/nofleet.json" "nofleet: no host, the destination still listed" \
		'.summary.hosts == 0 and .queue.destinations[0].domain == "host-x.lab.test" and .queue.destinations[0].fleet == false'

	# ---- names resolved: Sendmail's listing names hosts, not addresses ----------
	# (the committed real capture; in R, host-a.lab.test resolves through its
	# /etc/hosts, host-b and host-d do not: left out with a warning each)
	timeout 30 ip netns exec "$R" "$MAILHOLE" queue "$HERE/../fixtures/queue/sendmail-mailq.txt" \
		--policy "$LAB_TMP/policy.json" -o "$OUT/sendmail.json" >"$OUT/sendmail.out" 2>"$OUT/sendmail.err"
	rc=$?
	echo "lab: sendmail: mailhole queue sendmail-mailq.txt (in R) -> exit $rc"
	[ "$rc" = 1 ] || fail "sendmail: exit $rc, 1 expected"
	expect "$OUT/sendmail.json" "sendmail: host-a resolved from R's /etc/hosts, 2 recipients refused" \
		'.summary.hosts == 1 and .hosts[0].addr == "198.18.70.9" and .hosts[0].queue[0].addr_from == "resolved" and (.hosts[0].findings[0].evidence | contains("2 recipients in 1 message (2 connection-refused)")) and .queue.format == "sendmail-mailq"'
	grep -q 'host-b.lab.test: left out' "$OUT/sendmail.err" ||
		fail "sendmail: no warning naming host-b.lab.test as left out"

	# ---- bad input -----------------------------------------------------------
	head -c "$(($(head -n 1 "$OUT/relay.jsonl" | wc -c) + 40))" "$OUT/relay.jsonl" >"$OUT/truncated.jsonl"
	mq truncated 2 "$OUT/truncated.jsonl" --policy "$LAB_TMP/policy.json" -o "$OUT/truncated.json"
	one_line truncated "^mailhole: $OUT/truncated.jsonl line 2: not a JSON object"
	expect "$OUT/truncated.json" "truncated: the document keeps the first message" \
		'.queue.complete == false and .queue.messages == 1 and (.queue.error | contains("line 2")) and .scan.complete == false'
	head -c 300 /dev/urandom | tr -d '\n' >"$OUT/junk.bin"
	printf '{"queue_id": "X' >>"$OUT/junk.bin"
	mq junk 2 "$OUT/junk.bin" --format postfix-json
	one_line junk "^mailhole: $OUT/junk.bin line 1: "
	MAIL_CONFIG=$RD timeout 10 ip netns exec "$R" postqueue -p >"$OUT/text.txt" 2>/dev/null
	mq text 2 "$OUT/text.txt"
	one_line text "^mailhole: $OUT/text.txt line 1: Postfix's text listing .*postqueue -j"
	mq missing 2 "$OUT/no-such-file"
	one_line missing "^mailhole: $OUT/no-such-file: No such file or directory"

	[ "$FAILS" = 0 ] || return 1
	echo "PASS: lab_queue"
	return 0
}

lab_run_isolated
exit $?
