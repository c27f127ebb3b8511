#!/bin/bash
# lab_local_opensmtpd.sh MAILHOLE BUILD_DIR -- `mailhole local` against a
# real OpenSMTPD 6.8 daemon (Debian's opensmtpd package, downloaded with
# apt-get download and unpacked with dpkg -x into
# /var/cache/mailhole-lab/opensmtpd: it conflicts with postfix, so nothing is
# installed).
#
# smtpd wants its users (opensmtpd, opensmtpq), /var/spool/smtpd (711),
# /var/lib/opensmtpd/empty and /var/run: each daemon runs in a network
# namespace and a private mount + UTS namespace of its own (unshare), where
# tmpfs covers /var/spool, /var/lib and /run and copies of /etc/passwd and
# /etc/group with the two users are bind-mounted. Nothing changes on the host.
# It runs in the foreground (-d) so that its pid is known. mailhole runs in
# the same network and UTS namespaces.
#
#   o1 198.18.64.1  listen on lo; listen on IFACE port 587; relay host
#                   smtp://198.18.64.254:25; started with -f FILE
#                   -> mta opensmtpd, running, config FILE found from the
#                      daemon's -f (no --config), listen "lo:25, IFACE:587",
#                      relayhost; exposed-smtp on 198.18.64.1:587 with
#                      OpenSMTPD's remediation; the daemon runs its queue
#                      (no no-queue-runner); host-qualified-sender (no mailname)
#   o2 198.18.65.1  listen on localhost; relay ... mail-from "@lab.test";
#                   read with --config FILE
#                   -> loopback-only with OpenSMTPD's remediation; masquerade
#                      lab.test, envelope true; no host-qualified-sender
#
# Exit 0 pass, 1 fail, 77 skip (no root / netns, no package download).
# Network safety: only 127.0.0.0/8 and 198.18.0.0/15 inside namespaces this
# script creates; no mail is sent. LAB_KEEP=1 keeps the work dir.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"
# MAILHOLE and BUILD_DIR from the arguments, root and netns or skip, the ledger, fail()
lab_start "$@"

command -v nsenter >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1 ||
	lab_skip "nsenter / unshare (util-linux) missing"
if ! command -v jq >/dev/null 2>&1; then
	apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends jq \
		>/dev/null 2>&1 || lab_skip "jq is not installed and cannot be"
fi

OSCACHE=${MAILHOLE_LAB_CACHE:-/var/cache/mailhole-lab}/opensmtpd
SMTPD=$OSCACHE/root/usr/sbin/smtpd
if [ ! -x "$SMTPD" ]; then
	mkdir -p "$OSCACHE" || lab_skip "cannot create $OSCACHE"
	(cd "$OSCACHE" && apt-get download opensmtpd) >"$OSCACHE/download.log" 2>&1 ||
		lab_skip "apt-get download opensmtpd failed"
	dpkg -x "$OSCACHE"/opensmtpd_*.deb "$OSCACHE/root" || lab_skip "dpkg -x opensmtpd failed"
	[ -x "$SMTPD" ] || lab_skip "no smtpd in the unpacked package"
fi
ldd "$SMTPD" 2>/dev/null | grep -q 'not found' && lab_skip "smtpd's libraries are missing"

expect() { # FILE DESC FILTER
	if ! jq -e "$3" "$1" >/dev/null 2>&1; then
		fail "$2"
		echo "      check: $3"
		echo "      got:   $(jq -c '.hosts[0] | {exposure, mta: (.local.mta | {product, config, running, pid, listen, relayhost, masquerade}), runners: .local.queue_runner.runners, findings: [.findings[] | {id, severity, evidence, remediation}]}' "$1" 2>&1 | head -c 2500)"
	fi
	return 0
}

has_finding() { # FILE ID
	jq -e --arg id "$2" 'any(.hosts[0].findings[]; .id == $id)' "$1" >/dev/null 2>&1
}

run() { # NAME WANT_RC CMD...
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

# mkns NS LETTER NET: namespace, veth into the peer, NET.1/24.
mkns() {
	local ns=$1 l=$2 net=$3
	lab_netns_add "$ns"
	lab_veth "$ns" "mhl${LAB_ID}$l" "$PEERNS" "mhl${LAB_ID}${l}p"
	ip -n "$ns" addr add "$net.1/24" dev "mhl${LAB_ID}$l" || lab_die "addr $net.1 failed"
	ip -n "$ns" route add default via "$net.254" || lab_die "default route failed"
	# smtpd binds every address of an interface: wait for IPv6 duplicate
	# address detection to finish on the link-local one
	local i
	for ((i = 0; i < 50; i++)); do
		[ -z "$(ip -n "$ns" -6 addr show dev "mhl${LAB_ID}$l" tentative 2>/dev/null)" ] && return 0
		sleep 0.1
	done
}

# start NS DIR HOST: smtpd -d -f DIR/smtpd.conf in NS, private mounts, UTS HOST.
start() {
	local ns=$1 dir=$2 host=$3 i
	cp /etc/passwd "$dir/passwd" && cp /etc/group "$dir/group" || lab_die "copy passwd failed"
	printf 'opensmtpd:x:64010:64010::/var/lib/opensmtpd/empty:/usr/sbin/nologin\n' >>"$dir/passwd"
	printf 'opensmtpq:x:64011:64011::/var/lib/opensmtpd/empty:/usr/sbin/nologin\n' >>"$dir/passwd"
	printf 'opensmtpd:x:64010:\nopensmtpq:x:64011:\n' >>"$dir/group"
	cat >"$dir/start.sh" <<EOF
#!/bin/sh
# mailhole lab: OpenSMTPD's paths and users, in this mount namespace only
set -e
mount -t tmpfs -o mode=755 mhl-lab /var/spool
mount -t tmpfs -o mode=755 mhl-lab /var/lib
mount -t tmpfs -o mode=755 mhl-lab /run
mkdir -p /var/lib/opensmtpd/empty /var/spool/smtpd
chmod 711 /var/spool/smtpd
mount --bind $dir/passwd /etc/passwd
mount --bind $dir/group /etc/group
hostname $host
echo \$\$ > $dir/smtpd.pid.tmp
mv $dir/smtpd.pid.tmp $dir/smtpd.pid
exec $SMTPD -d -f $dir/smtpd.conf
EOF
	chmod 755 "$dir/start.sh"
	lab_spawn "$ns" "$dir/smtpd.pid" "$dir/smtpd.log" unshare --mount --uts "$dir/start.sh"
	for ((i = 0; i < 50; i++)); do
		ip netns exec "$ns" ss -ltnH 2>/dev/null | grep -q ':25 ' && return 0
		sleep 0.1
	done
	tail -n 20 "$dir/smtpd.log" >&2
	lab_die "smtpd in $ns does not listen"
}

lab_body() {
	lab_init
	OUTDIR=$LAB_TMP/out
	mkdir -p "$OUTDIR"
	PEERNS=mhl-$LAB_ID-p
	lab_netns_add "$PEERNS"
	local N1=mhl-$LAB_ID-o1 N2=mhl-$LAB_ID-o2 D J pid IF

	# ---- o1: loopback, and the lab interface on 587 --------------------
	D=$LAB_TMP/o1
	IF=mhl${LAB_ID}a
	mkdir -p "$D" && chmod 755 "$D"
	mkns "$N1" a 198.18.64
	cat >"$D/smtpd.conf" <<EOF
# mailhole lab o1
listen on lo
listen on $IF port 587
action "outbound" relay host smtp://198.18.64.254:25
match from local for any action "outbound"
EOF
	start "$N1" "$D" host-o1.lab.test
	pid=$(head -n 1 "$D/smtpd.pid")
	run o1 1 ip netns exec "$N1" nsenter -t "$pid" --uts "$MAILHOLE" local
	J=$OUTDIR/o1.json
	expect "$J" "o1: mta opensmtpd, running, its -f file" \
		".hosts[0].local.mta.product == \"opensmtpd\" and .hosts[0].local.mta.running == true and .hosts[0].local.mta.config == \"$D/smtpd.conf\" and .hosts[0].local.mta.listen == \"lo:25, $IF:587\" and .hosts[0].local.mta.relayhost == \"smtp://198.18.64.254:25\" and .hosts[0].local.mta.smtp_listener == true"
	expect "$J" "o1: 25 on loopback only, 587 on the lab address" \
		'(.hosts[0].local.interfaces | map(select(.addr == "198.18.64.1"))[0].ports == {"25": "closed", "465": "closed", "587": "listening"}) and (.hosts[0].local.interfaces | map(select(.addr == "127.0.0.1"))[0].ports["25"] == "listening")'
	expect "$J" "o1: exposed-smtp on 198.18.64.1:587 with OpenSMTPD's remediation" \
		'any(.hosts[0].findings[]; .id == "exposed-smtp" and (.evidence | contains("198.18.64.1:587")) and (.remediation | contains("listen on localhost")))'
	expect "$J" "o1: the daemon runs its own queue" \
		'.hosts[0].local.queue_runner.found == true and (.hosts[0].local.queue_runner.runners | length == 1) and .hosts[0].local.queue_runner.runners[0].covers == ["opensmtpd"]'
	has_finding "$J" no-queue-runner && fail "o1: no-queue-runner with smtpd running"
	if [ ! -e /etc/mailname ]; then
		expect "$J" "o1: host-qualified-sender (no /etc/mailname)" \
			'any(.hosts[0].findings[]; .id == "host-qualified-sender" and (.evidence | contains("smtp://198.18.64.254:25")) and (.remediation | contains("mailname")))'
	fi
	grep -q '^mta: opensmtpd (running)' "$OUTDIR/o1.out" ||
		fail "o1: no 'mta: opensmtpd (running)' line in the table"

	# ---- o2: localhost only, envelope masqueraded by mail-from -----------
	D=$LAB_TMP/o2
	mkdir -p "$D" && chmod 755 "$D"
	mkns "$N2" b 198.18.65
	cat >"$D/smtpd.conf" <<'EOF'
# mailhole lab o2
listen on localhost
action "outbound" relay host smtp://198.18.65.254:25 mail-from "@lab.test"
match from local for any action "outbound"
EOF
	start "$N2" "$D" host-o2.lab.test
	pid=$(head -n 1 "$D/smtpd.pid")
	run o2 0 ip netns exec "$N2" nsenter -t "$pid" --uts "$MAILHOLE" local --config "$D/smtpd.conf"
	J=$OUTDIR/o2.json
	expect "$J" "o2: loopback-only with OpenSMTPD's remediation" \
		'.hosts[0].exposure == "loopback-only" and any(.hosts[0].findings[]; .id == "loopback-only" and (.remediation | contains("listen on")))'
	expect "$J" "o2: masquerade lab.test, envelope true" \
		".hosts[0].local.mta.product == \"opensmtpd\" and .hosts[0].local.mta.running == true and .hosts[0].local.mta.config == \"$D/smtpd.conf\" and .hosts[0].local.mta.masquerade.domain == \"lab.test\" and .hosts[0].local.mta.masquerade.envelope == true"
	has_finding "$J" host-qualified-sender && fail "o2: host-qualified-sender with mail-from @lab.test"
	has_finding "$J" exposed-smtp && fail "o2: exposed-smtp on a localhost-only smtpd"

	if [ "$FAILS" -gt 0 ]; then
		echo "lab_local_opensmtpd: $FAILS failures"
		exit 1
	fi
	echo "lab_local_opensmtpd: all cases pass"
	exit 0
}

lab_run_isolated
rc=$?
exit "$rc"
