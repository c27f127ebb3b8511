#!/bin/bash
# lab_local_sendmail.sh MAILHOLE BUILD_DIR -- `mailhole local` against a real
# Sendmail 8.17 daemon (Debian's sendmail-bin, sendmail-base and sendmail-cf,
# downloaded with apt-get download and unpacked with dpkg -x into
# /var/cache/mailhole-lab/sendmail: the package conflicts with postfix, so
# nothing is installed). Each .mc is turned into a .cf with that tree's m4
# files; each daemon runs as `sendmail -C FILE.cf -bd -q5s` in a network
# namespace of its own (a veth with a 198.18.x.1 address into a peer
# namespace where nothing listens) and a UTS namespace of its own (unshare
# --uts + hostname: Sendmail looks up its own name at start). mailhole runs in
# the same namespaces (ip netns exec + nsenter --uts).
#
#   s1 198.18.61.1  DAEMON_OPTIONS Addr=127.0.0.1, MASQUERADE_AS(lab.test),
#                   FEATURE(masquerade_envelope), the default MSA left on
#                   -> table: 25 on 127.0.0.1 only, 587 on every address;
#                      exposed-smtp naming 198.18.61.1:587 and the default MSA;
#                      mta sendmail, running, its pid; masquerade lab.test,
#                      envelope true; no host-qualified-sender; the daemon's
#                      -q5s seen as the queue runner (from its pid file)
#                   once with --config FILE.cf, once without: the .cf is found
#                   from the daemon (its title hides its arguments; the pid
#                   file it keeps open has the command line and its -C)
#   s2 198.18.62.1  no masquerading, SMART_HOST, FEATURE(no_default_msa)
#                   -> loopback-only (25 on 127.0.0.1), host-qualified-sender
#                      naming the smart host, no exposed-smtp
#   s3 198.18.63.1  no daemon; the MSP (submit.cf: FEATURE(msp, [127.0.0.1]))
#                   submits one message with sendmail -Ac: nothing listens on
#                   127.0.0.1:25, so it waits in the client queue
#                   -> local-queue-stuck naming the queue and submit.cf's host,
#                      msp.listening false; no-queue-runner (unless this
#                      machine's own cron or timers run a sendmail queue)
#
# Exit 0 pass, 1 fail, 77 skip (no root / netns, no m4, no package download).
# Network safety: only 127.0.0.0/8 and 198.18.0.0/15 inside namespaces this
# script creates; no mail leaves a namespace (the smart hosts are never
# reachable). LAB_KEEP=1 keeps the work dir.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# MAILHOLE and BUILD_DIR from the arguments, root and netns or skip, the ledger, fail()
lab_start "$@"

command -v m4 >/dev/null 2>&1 || lab_skip "m4 is not installed"
command -v nsenter >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1 ||
	lab_skip "nsenter / unshare (util-linux) missing"
if ! command -v jq >/dev/null 2>&1; then
	apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends jq \
		>/dev/null 2>&1 || lab_skip "jq is not installed and cannot be"
fi

# The unpacked package, shared by runs (downloaded once).
SMCACHE=${MAILHOLE_LAB_CACHE:-/var/cache/mailhole-lab}/sendmail
SMROOT=$SMCACHE/root
SENDMAIL=$SMROOT/usr/libexec/sendmail/sendmail
CFDIR=$SMROOT/usr/share/sendmail/cf
if [ ! -x "$SENDMAIL" ] || [ ! -r "$CFDIR/m4/cf.m4" ]; then
	mkdir -p "$SMCACHE" || lab_skip "cannot create $SMCACHE"
	(cd "$SMCACHE" && apt-get download sendmail-bin sendmail-base sendmail-cf) \
		>"$SMCACHE/download.log" 2>&1 || lab_skip "apt-get download sendmail-bin sendmail-base sendmail-cf failed"
	for d in "$SMCACHE"/sendmail-*.deb; do
		dpkg -x "$d" "$SMROOT" || lab_skip "dpkg -x $d failed"
	done
	[ -x "$SENDMAIL" ] || lab_skip "no sendmail binary in the unpacked package"
fi
MAIL_UID=$(id -u mail 2>/dev/null) || lab_skip "no 'mail' user"
MAIL_GID=$(id -g mail 2>/dev/null)

# expect FILE DESC FILTER
expect() {
	local file=$1 desc=$2 filter=$3
	if ! jq -e "$filter" "$file" >/dev/null 2>&1; then
		fail "$desc"
		echo "      check: $filter"
		echo "      got:   $(jq -c '.hosts[0] | {exposure, mta: (.local.mta | {product, config, running, pid, listen, masquerade}), queue: .local.queue, runner: .local.queue_runner, findings: [.findings[] | {id, severity, evidence}]}' "$file" 2>&1 | head -c 2500)"
	fi
	return 0
}

has_finding() { # FILE ID
	jq -e --arg id "$2" 'any(.hosts[0].findings[]; .id == $id)' "$1" >/dev/null 2>&1
}

# run NAME WANT_RC CMD...: CMD (a mailhole local run) with -o NAME.json added.
run() {
	local name=$1 want=$2 rc pid
	shift 2
	timeout 30 "$@" -o "$OUTDIR/$name.json" </dev/null >"$OUTDIR/$name.out" \
		2>"$OUTDIR/$name.err" &
	pid=$!
	LAB_PIDS+=("$pid")
	wait "$pid"
	rc=$?
	echo "lab: $name: exit $rc"
	if [ "$rc" != "$want" ]; then
		fail "$name: exit $rc, $want expected"
		sed 's/^/      stderr: /' "$OUTDIR/$name.err" | head -n 10
		sed 's/^/      stdout: /' "$OUTDIR/$name.out" | head -n 30
	fi
	jq -e . "$OUTDIR/$name.json" >/dev/null 2>&1 || fail "$name: no valid JSON document"
}

# mkns NS LETTER NET HOST: namespace, veth into the peer, NET.1/24, /etc/hosts.
mkns() {
	local ns=$1 l=$2 net=$3 host=$4
	lab_netns_add "$ns"
	lab_netns_hosts "$ns" "$net.1 $host ${host%%.*}"
	lab_veth "$ns" "mhl${LAB_ID}$l" "$PEERNS" "mhl${LAB_ID}${l}p"
	ip -n "$ns" addr add "$net.1/24" dev "mhl${LAB_ID}$l" || lab_die "addr $net.1 failed"
	ip -n "$ns" route add default via "$net.254" || lab_die "default route failed"
}

# mkconf DIR HOST MC_BODY: DIR/sendmail.mc -> DIR/sendmail.cf, with the lab's
# queue, pid file, aliases and local mailer under DIR.
mkconf() {
	local dir=$1 body=$2
	mkdir -p "$dir/mqueue" "$dir/cmqueue" || lab_die "mkdir $dir failed"
	chmod 755 "$dir"
	chmod 700 "$dir/mqueue"
	chown "root:$MAIL_GID" "$dir/cmqueue" && chmod 770 "$dir/cmqueue"
	printf '#!/bin/sh\n# lab local mailer: keeps local delivery inside the lab\ncat >>%s/delivered.mbox\n' \
		"$dir" >"$dir/deliver.sh"
	chmod 755 "$dir/deliver.sh"
	printf 'postmaster: root\n' >"$dir/aliases"
	cat >"$dir/sendmail.mc" <<EOF
divert(-1)dnl
# mailhole lab (lab_local_sendmail.sh)
divert(0)dnl
VERSIONID(\`mailhole lab')dnl
define(\`__OSTYPE__',\`')dnl
define(\`confDEF_USER_ID', \`$MAIL_UID:$MAIL_GID')dnl
define(\`QUEUE_DIR', \`$dir/mqueue')dnl
define(\`confPID_FILE', \`$dir/sendmail.pid')dnl
define(\`STATUS_FILE', \`$dir/sendmail.st')dnl
define(\`ALIAS_FILE', \`$dir/aliases')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`LOCAL_MAILER_PATH', \`$dir/deliver.sh')dnl
$body
MAILER(\`local')dnl
MAILER(\`smtp')dnl
EOF
	m4 -D_CF_DIR_="$CFDIR/" "$CFDIR/m4/cf.m4" "$dir/sendmail.mc" >"$dir/sendmail.cf" ||
		lab_die "m4 $dir/sendmail.mc failed"
}

# start NS DIR HOST: the daemon, in NS and a UTS namespace named HOST.
start() {
	local ns=$1 dir=$2 host=$3
	lab_spawn "$ns" "$dir/sendmail.pid" "$dir/start.log" unshare --uts sh -c \
		"hostname $host && exec $SENDMAIL -C $dir/sendmail.cf -bd -q5s"
	local i
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$ns" ss -ltnH 2>/dev/null | grep -q '127.0.0.1:25 ' && return 0
		sleep 0.1
	done
	lab_die "sendmail in $ns does not listen on 127.0.0.1:25"
}

lab_body() {
	lab_init
	OUTDIR=$LAB_TMP/out
	mkdir -p "$OUTDIR"
	PEERNS=mhl-$LAB_ID-p
	lab_netns_add "$PEERNS"
	local N1=mhl-$LAB_ID-s1 N2=mhl-$LAB_ID-s2 N3=mhl-$LAB_ID-s3 D J pid

	# ---- s1: bound to 127.0.0.1, masqueraded, the default MSA on 587 ------
	D=$LAB_TMP/s1
	mkns "$N1" a 198.18.61 host-s1.lab.test
	mkconf "$D" "define(\`SMART_HOST', \`[198.18.61.254]')dnl
DAEMON_OPTIONS(\`Port=smtp,Addr=127.0.0.1, Name=MTA')dnl
MASQUERADE_AS(\`lab.test')dnl
FEATURE(\`masquerade_envelope')dnl"
	start "$N1" "$D" host-s1.lab.test
	pid=$(head -n 1 "$D/sendmail.pid")
	for mode in config found; do
		local args=()
		[ "$mode" = config ] && args=(--config "$D/sendmail.cf")
		run "s1-$mode" 1 ip netns exec "$N1" nsenter -t "$pid" --uts "$MAILHOLE" local "${args[@]}"
		J=$OUTDIR/s1-$mode.json
		expect "$J" "s1-$mode: the running sendmail (pid $pid) and its .cf" \
			".hosts[0].names == [\"host-s1.lab.test\"] and .hosts[0].local.mta.product == \"sendmail\" and .hosts[0].local.mta.running == true and .hosts[0].local.mta.pid == $pid and .hosts[0].local.mta.config == \"$D/sendmail.cf\" and .hosts[0].local.mta.listen == \"127.0.0.1\""
		expect "$J" "s1-$mode: masquerade lab.test, envelope too" \
			'.hosts[0].local.mta.masquerade.domain == "lab.test" and .hosts[0].local.mta.masquerade.envelope == true'
		expect "$J" "s1-$mode: 25 listens on 127.0.0.1 only, 587 everywhere" \
			'(.hosts[0].local.interfaces | map(select(.addr == "127.0.0.1"))[0].ports == {"25": "listening", "465": "closed", "587": "listening"}) and (.hosts[0].local.interfaces | map(select(.addr == "198.18.61.1"))[0].ports == {"25": "closed", "465": "closed", "587": "listening"})'
		expect "$J" "s1-$mode: listeners 127.0.0.1:25 and 0.0.0.0:587, owned by the daemon" \
			"(.hosts[0].local.listeners | map(select(.pid == $pid)) | map(\"\(.addr):\(.port)\") | sort) == [\"0.0.0.0:587\", \"127.0.0.1:25\"]"
		expect "$J" "s1-$mode: exposed-smtp naming 198.18.61.1:587 and the default MSA" \
			'.hosts[0].exposure == "exposed" and any(.hosts[0].findings[]; .id == "exposed-smtp" and (.evidence | contains("198.18.61.1:587")) and (.evidence | contains("default MSA")) and (.evidence | contains("198.18.61.1:25") | not))'
		expect "$J" "s1-$mode: no partial exposure (0.0.0.0 covers every IPv4 address)" \
			'.hosts[0].local.partial == false'
		expect "$J" "s1-$mode: the daemon's -q5s is the queue runner" \
			'.hosts[0].local.queue_runner.found == true and any(.hosts[0].local.queue_runner.runners[]; .kind == "daemon" and .covers == ["sendmail-mqueue"] and (.what | contains("-q5s")))'
		has_finding "$J" host-qualified-sender && fail "s1-$mode: host-qualified-sender although masqueraded"
		has_finding "$J" no-queue-runner && fail "s1-$mode: no-queue-runner although the daemon runs the queue"
		has_finding "$J" local-queue-stuck && fail "s1-$mode: local-queue-stuck with an empty queue"
	done
	grep -q '^mta: sendmail (running)' "$OUTDIR/s1-found.out" ||
		fail "s1-found: no 'mta: sendmail (running)' line in the table"

	# ---- s2: not masqueraded, smart host, no default MSA --------------------
	D=$LAB_TMP/s2
	mkns "$N2" b 198.18.62 host-s2.lab.test
	mkconf "$D" "define(\`SMART_HOST', \`[198.18.62.254]')dnl
DAEMON_OPTIONS(\`Port=smtp,Addr=127.0.0.1, Name=MTA')dnl
FEATURE(\`no_default_msa')dnl"
	start "$N2" "$D" host-s2.lab.test
	pid=$(head -n 1 "$D/sendmail.pid")
	run s2 1 ip netns exec "$N2" nsenter -t "$pid" --uts "$MAILHOLE" local
	J=$OUTDIR/s2.json
	expect "$J" "s2: the running sendmail, not masqueraded" \
		".hosts[0].local.mta.product == \"sendmail\" and .hosts[0].local.mta.pid == $pid and .hosts[0].local.mta.config == \"$D/sendmail.cf\" and .hosts[0].local.mta.masquerade.known == true and .hosts[0].local.mta.masquerade.domain == null"
	expect "$J" "s2: loopback-only (25 on 127.0.0.1)" \
		'.hosts[0].exposure == "loopback-only" and any(.hosts[0].findings[]; .id == "loopback-only" and (.evidence | contains("127.0.0.1:25")))'
	expect "$J" "s2: host-qualified-sender (high) naming the smart host" \
		'any(.hosts[0].findings[]; .id == "host-qualified-sender" and .severity == "high" and (.evidence | test("(SMART_HOST|DS) = \\[198.18.62.254\\]")))'
	expect "$J" "s2: Sendmail's remediation lines" \
		'any(.hosts[0].findings[]; .id == "host-qualified-sender" and (.remediation | contains("MASQUERADE_AS")))'
	has_finding "$J" exposed-smtp && fail "s2: exposed-smtp with no_default_msa"

	# ---- s3: no daemon; the MSP queues for a 127.0.0.1 where nothing listens --
	D=$LAB_TMP/s3
	mkns "$N3" c 198.18.63 host-s3.lab.test
	mkconf "$D" "define(\`SMART_HOST', \`[198.18.63.254]')dnl
DAEMON_OPTIONS(\`Port=smtp,Addr=127.0.0.1, Name=MTA')dnl
MASQUERADE_AS(\`lab.test')dnl
FEATURE(\`masquerade_envelope')dnl"
	cat >"$D/submit.mc" <<EOF
divert(-1)dnl
# mailhole lab: the MSP, handing mail to 127.0.0.1:25 (no smmsp user here)
divert(0)dnl
VERSIONID(\`mailhole lab submit')dnl
define(\`confCF_VERSION', \`Submit')dnl
define(\`__OSTYPE__',\`')dnl
define(\`confRUN_AS_USER', \`mail:mail')dnl
define(\`confTRUSTED_USER', \`mail')dnl
define(\`MSP_QUEUE_DIR', \`$D/cmqueue')dnl
define(\`confPID_FILE', \`$D/submit.pid')dnl
define(\`STATUS_FILE', \`$D/submit.st')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
FEATURE(\`msp', \`[127.0.0.1]')dnl
EOF
	m4 -D_CF_DIR_="$CFDIR/" "$CFDIR/m4/cf.m4" "$D/submit.mc" >"$D/submit.cf" ||
		lab_die "m4 submit.mc failed"
	printf 'Subject: lab s3\n\nwaits in the client queue\n' |
		timeout 30 ip netns exec "$N3" unshare --uts sh -c \
			"hostname host-s3.lab.test && $SENDMAIL -C $D/submit.cf -Ac -odi -oi root" \
			>"$D/submit.log" 2>&1
	[ "$(find "$D/cmqueue" -name 'qf*' | wc -l)" = 1 ] ||
		fail "s3: the submitted message is not in $D/cmqueue ($(cat "$D/submit.log"))"
	run s3 1 ip netns exec "$N3" "$MAILHOLE" local --config "$D/sendmail.cf"
	J=$OUTDIR/s3.json
	expect "$J" "s3: the client queue holds the message; submit.cf's host does not listen" \
		"any(.hosts[0].local.queue[]; .name == \"sendmail-clientmqueue\" and .path == \"$D/cmqueue\" and .count == 1 and .stuck == true and .oldest_age_s >= 0) and .hosts[0].local.queue_runner.msp.host == \"[127.0.0.1]\" and .hosts[0].local.queue_runner.msp.listening == false"
	expect "$J" "s3: local-queue-stuck (high) naming the queue and submit.cf" \
		"any(.hosts[0].findings[]; .id == \"local-queue-stuck\" and .severity == \"high\" and (.evidence | contains(\"$D/cmqueue: 1 message\")) and (.evidence | contains(\"where nothing listens\")))"
	if jq -e '.hosts[0].local.queue_runner.runners == []' "$J" >/dev/null 2>&1; then
		expect "$J" "s3: no-queue-runner (nothing runs either queue)" \
			'any(.hosts[0].findings[]; .id == "no-queue-runner" and (.evidence | contains("MSP queue")))'
	else
		echo "lab: s3: this machine runs a mail queue itself; no-queue-runner not asserted"
	fi

	if [ "$FAILS" -gt 0 ]; then
		echo "lab_local_sendmail: $FAILS failures"
		exit 1
	fi
	echo "lab_local_sendmail: all cases pass"
	exit 0
}

lab_run_isolated
rc=$?
exit "$rc"
