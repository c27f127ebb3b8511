#!/bin/bash
# lab_local_queue.sh MAILHOLE BUILD_DIR -- the outgoing path of a real
# Postfix, with and without its daemon: `mailhole local` counts what waits in
# the queues and says whether anything runs them.
#
# One namespace (198.18.66.1/24, a veth into a peer namespace holding
# 198.18.66.254, where nothing listens: the relayhost refuses at once) and a
# Postfix instance of its own on 127.0.0.1 (postfix -c DIR; queue_directory
# DIR.spool/queue), relayhost = [198.18.66.254].
#   q1  master running; one message submitted with Postfix's sendmail, refused
#       by the relay -> deferred
#       -> local.queue postfix-deferred count 1, covered; the master is the
#          queue runner (daemon); no no-queue-runner, no local-queue-stuck
#          (exit 1 all the same: host-qualified-sender, not masqueraded)
#   q2  Postfix stopped (the seed's "no daemon" without a cron entry); a second
#       message submitted -> it waits in maildrop (nothing picks it up)
#       -> postfix-maildrop and postfix-deferred stuck ("nothing runs this
#          queue"), local-queue-stuck (high) naming maildrop; no-queue-runner
#          (unless this machine's own cron or timers flush a queue)
#   q3  q2 run as nobody: the queue folders are the postfix user's
#       -> queues listed as not seen ("permission denied (root needed)", also
#          in local.unseen), never judged stuck
#
# Exit 0 pass, 1 fail, 77 skip (no root / netns). Network safety: only
# 127.0.0.0/8 and 198.18.0.0/15 inside namespaces this script creates; the
# relay address refuses every connection. LAB_KEEP=1 keeps the work dir.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# MAILHOLE and BUILD_DIR from the arguments, root and netns or skip, the ledger, fail()
lab_start "$@"

expect() { # FILE DESC FILTER
	if ! jq -e "$3" "$1" >/dev/null 2>&1; then
		fail "$2"
		echo "      check: $3"
		echo "      got:   $(jq -c '.hosts[0] | {mta: (.local.mta | {product, config, running}), queue: .local.queue, runner: .local.queue_runner, findings: [.findings[] | {id, severity, evidence}]}' "$1" 2>&1 | head -c 2500)"
	fi
	return 0
}

has_finding() { # FILE ID
	jq -e --arg id "$2" 'any(.hosts[0].findings[]; .id == $id)' "$1" >/dev/null 2>&1
}

run() { # NAME WANT_RC ARGS...
	local name=$1 want=$2 rc pid
	shift 2
	timeout 30 ip netns exec "$NS" "$MAILHOLE" local -o "$OUTDIR/$name.json" "$@" \
		</dev/null >"$OUTDIR/$name.out" 2>"$OUTDIR/$name.err" &
	pid=$!
	LAB_PIDS+=("$pid")
	wait "$pid"
	rc=$?
	echo "lab: $name: exit $rc"
	if [ "$rc" != "$want" ]; then
		fail "$name: exit $rc, $want expected"
		sed 's/^/      stderr: /' "$OUTDIR/$name.err" | head -n 10
	fi
	jq -e . "$OUTDIR/$name.json" >/dev/null 2>&1 || fail "$name: no valid JSON document"
}

# submit TAG: one message through the instance's sendmail (postdrop).
submit() {
	printf 'Subject: lab %s\n\nqueued\n' "$1" |
		timeout 20 ip netns exec "$NS" env MAIL_CONFIG="$PF" sendmail -f root \
			"rcpt-$1@remote.lab.test" >>"$PF/submit.log" 2>&1 ||
		fail "$1: sendmail (postdrop) failed: $(tail -n 3 "$PF/submit.log")"
}

# count QUEUE: files in one of the instance's queue folders.
count() {
	find "$PF.spool/queue/$1" -type f 2>/dev/null | wc -l
}

lab_body() {
	lab_init
	lab_install_postfix
	OUTDIR=$LAB_TMP/out
	mkdir -p "$OUTDIR"
	PEERNS=mhl-$LAB_ID-p
	NS=mhl-$LAB_ID-q
	PF=$LAB_TMP/pf
	local J i
	lab_netns_add "$PEERNS"
	lab_netns_add "$NS"
	lab_veth "$NS" "mhl${LAB_ID}q" "$PEERNS" "mhl${LAB_ID}qp"
	ip -n "$NS" addr add 198.18.66.1/24 dev "mhl${LAB_ID}q" || lab_die "addr failed"
	ip -n "$PEERNS" addr add 198.18.66.254/24 dev "mhl${LAB_ID}qp" || lab_die "peer addr failed"
	lab_postfix_instance "$NS" "$PF" host-q.lab.test 127.0.0.1 'relayhost = [198.18.66.254]'

	# ---- q1: the daemon runs; a refused message waits in deferred --------
	submit q1
	for ((i = 0; i < 150; i++)); do
		[ "$(count deferred)" -ge 1 ] && break
		sleep 0.1
	done
	[ "$(count deferred)" = 1 ] || fail "q1: no message in deferred ($(tail -n 5 "$PF/maillog"))"
	run q1 1 # host-qualified-sender: myorigin = $myhostname with a relayhost
	J=$OUTDIR/q1.json
	expect "$J" "q1: the running instance and its queue folder" \
		".hosts[0].local.mta.product == \"postfix\" and .hosts[0].local.mta.running == true and any(.hosts[0].local.mta.settings[]; .key == \"queue_directory\" and .value == \"$PF.spool/queue\")"
	expect "$J" "q1: deferred holds 1, covered by the master" \
		"any(.hosts[0].local.queue[]; .name == \"postfix-deferred\" and .path == \"$PF.spool/queue/deferred\" and .count == 1 and .covered == true and .stuck == false and .oldest_age_s >= 0)"
	expect "$J" "q1: the master is the queue runner" \
		'.hosts[0].local.queue_runner.found == true and any(.hosts[0].local.queue_runner.runners[]; .kind == "daemon" and .covers == ["postfix"] and (.what | contains("master")))'
	has_finding "$J" no-queue-runner && fail "q1: no-queue-runner with the master running"
	has_finding "$J" local-queue-stuck && fail "q1: local-queue-stuck for a young deferred message with a runner"

	# ---- q2: no daemon; a new message waits in maildrop ---------------------
	lab_postfix_stop "$NS" "$PF"
	submit q2
	[ "$(count maildrop)" = 1 ] || fail "q2: no message in maildrop"
	run q2 1 --config "$PF/main.cf"
	J=$OUTDIR/q2.json
	expect "$J" "q2: not running; maildrop and deferred stuck, nothing runs them" \
		".hosts[0].local.mta.running == false and any(.hosts[0].local.queue[]; .name == \"postfix-maildrop\" and .count == 1 and .stuck == true and .why == \"nothing runs this queue\") and any(.hosts[0].local.queue[]; .name == \"postfix-deferred\" and .count == 1 and .stuck == true)"
	expect "$J" "q2: local-queue-stuck (high) naming maildrop" \
		"any(.hosts[0].findings[]; .id == \"local-queue-stuck\" and .severity == \"high\" and (.evidence | startswith(\"$PF.spool/queue/maildrop: 1 message\")) and (.evidence | contains(\"and other queues\")))"
	if jq -e '.hosts[0].local.queue_runner.runners | map(select(.active and (.covers | index("postfix")))) == []' "$J" >/dev/null 2>&1; then
		expect "$J" "q2: no-queue-runner naming Postfix's queue" \
			'any(.hosts[0].findings[]; .id == "no-queue-runner" and (.evidence | contains("Postfix")))'
	else
		echo "lab: q2: this machine flushes a Postfix queue itself; no-queue-runner not asserted"
	fi

	# ---- q3: the same, not as root: the queues are the postfix user's ------
	if id nobody >/dev/null 2>&1 && command -v runuser >/dev/null 2>&1; then
		chmod 1777 "$OUTDIR"
		timeout 30 ip netns exec "$NS" runuser -u nobody -- "$MAILHOLE" local --quiet \
			--config "$PF/main.cf" -o "$OUTDIR/q3.json" </dev/null \
			>"$OUTDIR/q3.out" 2>"$OUTDIR/q3.err"
		echo "lab: q3 (as nobody): exit $?"
		J=$OUTDIR/q3.json
		expect "$J" "q3: maildrop and deferred not seen, said so, not judged stuck" \
			"any(.hosts[0].local.queue[]; .name == \"postfix-deferred\" and .seen == false and .count == null and .stuck == false and (.unseen | contains(\"root needed\"))) and any(.hosts[0].local.unseen[]; contains(\"queue $PF.spool/queue/deferred: permission denied\"))"
		has_finding "$J" local-queue-stuck && fail "q3: local-queue-stuck from queues it cannot read"
	else
		echo "lab: q3: no 'nobody' user or no runuser; not-root case skipped"
	fi

	if [ "$FAILS" -gt 0 ]; then
		echo "lab_local_queue: $FAILS failures"
		exit 1
	fi
	echo "lab_local_queue: all cases pass"
	exit 0
}

lab_run_isolated
rc=$?
exit "$rc"
