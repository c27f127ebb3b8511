# shellcheck shell=bash
# lib.sh -- shared helpers for the integration labs (tests/lab/lab_*.sh).
#
# Source it from a bash script, then:
#   lab_require_root            exit 77 (skip) without root or `ip netns`
#   lab_init                    per-run names and work dir, the cleanup trap
#   lab_install_postfix         postfix (and jq) when missing, nothing started
#   lab_netns_add NAME          a namespace (lo up, its own /etc/netns/NAME)
#   lab_netns_hosts NAME LINE.. lines for that namespace's /etc/hosts
#   lab_veth NS1 IF1 NS2 IF2    a veth pair between two namespaces
#   lab_spawn NS PIDFILE LOG CMD...  a daemon in NS (writes PIDFILE itself)
#   lab_postfix_instance NS DIR HOSTNAME INET_INTERFACES
#   lab_cleanup                 (the trap) stops and deletes all of the above
#
# Everything created is registered, in this shell and in a ledger file
# ($LAB_LEDGER) that outlives the cleanup: lab_verify_clean LEDGER checks,
# from outside the lab's shell, that nothing the lab started is left.
#
# Names: namespaces "mhl-$LAB_ID-X", interfaces "mhl${LAB_ID}X" (<= 15 chars),
# where LAB_ID is the pid of the lab's shell.
#
# Network safety: the labs only use 127.0.0.0/8 and 198.18.0.0/15 inside
# namespaces they create.

LAB_ID=${LAB_ID:-$$}
LAB_TMP=${LAB_TMP:-}
LAB_LEDGER=${LAB_LEDGER:-}
LAB_NETNS=()        # namespaces created
LAB_NETNS_ETC=()    # /etc/netns/NAME dirs created
LAB_PIDFILES=()     # pid files of daemons started
LAB_PIDS=()         # pids of daemons started (the shell's $!)
LAB_POSTFIX=()      # "NS|DIR" of Postfix instances started
LAB_RMDIRS=()       # directories to delete (Postfix instances)
LAB_POLICY_RC_CREATED=0
LAB_CLEANED=0

lab_log() { printf 'lab: %s\n' "$*" >&2; }
lab_skip() {
	printf 'SKIP: %s\n' "$*"
	exit 77
}
lab_die() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# Appends "KIND VALUE" to the ledger (when there is one).
lab_ledger() {
	[ -n "$LAB_LEDGER" ] && printf '%s %s\n' "$1" "$2" >>"$LAB_LEDGER"
	return 0
}

lab_require_root() {
	[ "$(id -u)" = 0 ] || lab_skip "needs root (network namespaces, Postfix)"
	command -v ip >/dev/null 2>&1 || lab_skip "no ip(8) (iproute2)"
	ip netns list >/dev/null 2>&1 || lab_skip "'ip netns' does not work here"
	local probe="mhl-$LAB_ID-probe"
	if ! ip netns add "$probe" >/dev/null 2>&1; then
		lab_skip "cannot create a network namespace (ip netns add failed)"
	fi
	local ok=0
	ip -n "$probe" link set lo up >/dev/null 2>&1 &&
		ip -n "$probe" link add "mhl${LAB_ID}p" type veth peer name "mhl${LAB_ID}q" \
			>/dev/null 2>&1 && ok=1
	ip netns del "$probe" >/dev/null 2>&1
	[ "$ok" = 1 ] || lab_skip "cannot create veth pairs in a network namespace"
}

# lab_start "$@": the common start of a lab script called as
# `SCRIPT MAILHOLE BUILD_DIR`: MAILHOLE (made absolute, must be executable)
# and BUILD_DIR; skip (77) without root or netns; the ledger (LAB_LEDGER,
# exported) for lab_run_isolated; FAILS=0 and fail MESSAGE (counts).
lab_start() {
	local me
	me=$(basename "$0")
	MAILHOLE=${1:?usage: $me MAILHOLE BUILD_DIR}
	BUILD_DIR=${2:?usage: $me MAILHOLE BUILD_DIR}
	case $MAILHOLE in /*) ;; *) MAILHOLE=$PWD/$MAILHOLE ;; esac
	[ -x "$MAILHOLE" ] || lab_die "no mailhole binary at $MAILHOLE"
	: "$BUILD_DIR"
	lab_require_root
	LAB_LEDGER=$(mktemp "/tmp/mhl-ledger-$LAB_ID.XXXXXX") || lab_die "mktemp failed"
	export LAB_LEDGER
	FAILS=0
}

fail() {
	printf 'FAIL: %s\n' "$*"
	FAILS=$((FAILS + 1))
}

# Work dir, the trap. LAB_KEEP=1 keeps the work dir (logs, outputs).
lab_init() {
	if [ -z "$LAB_TMP" ]; then
		LAB_TMP=$(mktemp -d "/tmp/mhl-$LAB_ID.XXXXXX") || lab_die "mktemp failed"
		lab_ledger tmpdir "$LAB_TMP"
	fi
	chmod 755 "$LAB_TMP"
	trap lab_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# postfix and jq, when missing. Never starts or configures anything
# system-wide: debconf "No configuration" and a policy-rc.d that forbids
# service starts during the install.
lab_install_postfix() {
	local need=()
	[ -x /usr/sbin/postfix ] || need+=(postfix)
	command -v jq >/dev/null 2>&1 || need+=(jq)
	[ ${#need[@]} -eq 0 ] && return 0
	lab_log "installing ${need[*]} (apt-get)"
	local log=${LAB_TMP:-/tmp}/apt-install.log
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections ||
		lab_die "debconf-set-selections failed"
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\n# mailhole lab: no service starts during the install\nexit 101\n' \
			>/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && LAB_POLICY_RC_CREATED=1
	fi
	local rc=0
	local apt=(apt-get -y -q -o DPkg::Lock::Timeout=300 install --no-install-recommends)
	if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" "${need[@]}" >"$log" 2>&1; then
		lab_log "install failed, running apt-get update first"
		{ DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 update &&
			DEBIAN_FRONTEND=noninteractive "${apt[@]}" "${need[@]}"; } >>"$log" 2>&1 || rc=1
	fi
	lab_remove_policy_rc
	if [ "$rc" != 0 ] || [ ! -x /usr/sbin/postfix ] || ! command -v jq >/dev/null 2>&1; then
		tail -n 20 "$log" >&2
		lab_die "could not install ${need[*]}"
	fi
}

lab_remove_policy_rc() {
	if [ "$LAB_POLICY_RC_CREATED" = 1 ]; then
		rm -f /usr/sbin/policy-rc.d
		LAB_POLICY_RC_CREATED=0
	fi
}

# lab_netns_add NAME: the namespace with lo up, and /etc/netns/NAME with
# hosts (localhost only; add lines with lab_netns_hosts), an empty
# resolv.conf and nsswitch.conf "hosts: files": names resolve without DNS.
lab_netns_add() {
	local ns=$1
	ip netns add "$ns" || lab_die "ip netns add $ns failed"
	LAB_NETNS+=("$ns")
	lab_ledger netns "$ns"
	ip -n "$ns" link set lo up || lab_die "lo up in $ns failed"
	local etc=/etc/netns/$ns
	[ -e "$etc" ] && lab_die "$etc exists already"
	mkdir -p "$etc" || lab_die "mkdir $etc failed"
	LAB_NETNS_ETC+=("$etc")
	lab_ledger netns-etc "$etc"
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$etc/hosts"
	printf '# mailhole lab %s: no DNS\n' "$ns" >"$etc/resolv.conf"
	printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\nnetworks: files\nservices: files\nprotocols: files\n' \
		>"$etc/nsswitch.conf"
}

# lab_netns_hosts NAME "ADDR NAME..." ...
lab_netns_hosts() {
	local ns=$1
	shift
	local line
	for line in "$@"; do
		printf '%s\n' "$line" >>"/etc/netns/$ns/hosts"
	done
}

# lab_veth NS1 IF1 NS2 IF2: created inside the namespaces, never in the
# caller's; both ends up.
lab_veth() {
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" ||
		lab_die "veth $2/$4 failed"
	ip -n "$1" link set "$2" up || lab_die "veth $2 up failed"
	ip -n "$3" link set "$4" up || lab_die "veth $4 up failed"
}

# lab_spawn NS PIDFILE LOG CMD...: runs CMD in NS in the background, stdio on
# LOG (never the test's), and waits (10 s) until CMD has written PIDFILE.
lab_spawn() {
	local ns=$1 pidfile=$2 log=$3
	shift 3
	LAB_PIDFILES+=("$pidfile")
	lab_ledger pidfile "$pidfile"
	ip netns exec "$ns" "$@" </dev/null >>"$log" 2>&1 &
	local pid=$!
	LAB_PIDS+=("$pid")
	lab_ledger pid "$pid"
	local i
	for ((i = 0; i < 100; i++)); do
		if [ -s "$pidfile" ]; then
			lab_ledger pid "$(head -n 1 "$pidfile")"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$log" >&2
	lab_die "$1 did not start (no pid file $pidfile)"
}

# Whether the process PID lives (and is not a zombie).
lab_alive() {
	local st
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	st=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# Stops PID: TERM, up to 5 s, then KILL.
lab_stop_pid() {
	local pid=$1 i
	lab_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		lab_alive "$pid" || return 0
		sleep 0.1
	done
	lab_log "pid $pid ignored SIGTERM, killing it"
	kill -KILL "$pid" 2>/dev/null
	sleep 0.1
}

lab_postfix_master_pid() {
	local f=$1.spool/queue/pid/master.pid
	[ -r "$f" ] && tr -d ' \n' <"$f"
}

# lab_postfix_instance NS DIR HOSTNAME INET_INTERFACES [EXTRA_MAIN_CF]
# A Postfix instance of its own: DIR holds main.cf, master.cf, the maillog
# and start.log; DIR.spool/ its queue/ and data/ (outside the config
# directory, where "postfix check" wants everything root's). Started in NS; returns when it listens on port 25 of every
# address of INET_INTERFACES (comma- or space-separated IPv4 addresses).
# Only smtpd and the daemons needed to run; no DNS, no chroot, no TLS
# unless EXTRA_MAIN_CF (lines appended to main.cf) sets smtpd_tls_cert_file:
# then tlsmgr runs too, and smtpd in wrapper mode (SMTPS) on port 465.
# Environment: LAB_PF_MASTER_EXTRA (lines appended to master.cf before the
# start, e.g. the virtual delivery agent), LAB_PF_NO_SMTPD=1 (no `smtp inet`
# service at all: the instance only sends; nothing is waited for on port 25).
# A key set in EXTRA_MAIN_CF replaces the base main.cf's line.
lab_postfix_instance() {
	local ns=$1 dir=$2 host=$3 ifaces=$4 extra=${5:-}
	local addrs a
	addrs=$(printf '%s' "$ifaces" | tr ',' ' ')
	local spool=$dir.spool
	mkdir -p "$dir" "$spool/queue" "$spool/data" || lab_die "mkdir $dir failed"
	LAB_RMDIRS+=("$dir" "$spool")
	lab_ledger dir "$dir"
	lab_ledger dir "$spool"
	chown root:root "$dir" "$spool" "$spool/queue"
	chmod 755 "$dir" "$spool" "$spool/queue"
	chown postfix: "$spool/data"
	cat >"$dir/main.cf" <<EOF
# mailhole lab instance $host in $ns
compatibility_level = 3.6
config_directory = $dir
queue_directory = $spool/queue
data_directory = $spool/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = $host
mydomain = lab.test
myorigin = \$myhostname
mydestination = \$myhostname, localhost
mynetworks = 127.0.0.0/8
inet_interfaces = $ifaces
inet_protocols = ipv4
relayhost =
smtpd_banner = \$myhostname ESMTP \$mail_name
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtpd_peername_lookup = no
alias_maps =
alias_database =
biff = no
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
smtputf8_enable = yes
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
maximal_queue_lifetime = 1m
bounce_queue_lifetime = 1m
EOF
	if [ -n "$extra" ]; then
		# a key of EXTRA_MAIN_CF replaces the base line (no "overriding
		# earlier entry" warning from every Postfix process)
		local key
		while IFS='=' read -r key _; do
			key=${key//[[:space:]]/}
			[ -n "$key" ] && case $key in \#*) ;; *) sed -i "/^$key[[:space:]]*=/d" "$dir/main.cf" ;; esac
		done <<<"$extra"
		printf '%s\n' "$extra" >>"$dir/main.cf"
	fi
	cat >"$dir/master.cf" <<'EOF'
# service type  private unpriv  chroot  wakeup  maxproc command
smtp      inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	# TLS needs tlsmgr (its entropy and session cache); with a certificate
	# the instance also serves SMTPS (implicit TLS) on 465
	case $extra in *smtpd_tls_cert_file*)
		printf '%s\n' 'tlsmgr    unix  -       -       n       1000?   1       tlsmgr' \
			'465       inet  n       -       n       -       -       smtpd -o smtpd_tls_wrappermode=yes' \
			>>"$dir/master.cf" ;;
	esac
	[ -n "${LAB_PF_MASTER_EXTRA:-}" ] && printf '%s\n' "$LAB_PF_MASTER_EXTRA" >>"$dir/master.cf"
	[ "${LAB_PF_NO_SMTPD:-0}" = 1 ] && sed -i '/^smtp *inet/d' "$dir/master.cf"
	LAB_POSTFIX+=("$ns|$dir")
	lab_ledger postfix "$ns|$dir"
	if ! timeout 60 ip netns exec "$ns" postfix -c "$dir" start </dev/null >>"$dir/start.log" 2>&1; then
		cat "$dir/start.log" >&2
		lab_die "postfix -c $dir start failed in $ns"
	fi
	local i pid
	for ((i = 0; i < 100; i++)); do
		pid=$(lab_postfix_master_pid "$dir")
		[ -n "$pid" ] && break
		sleep 0.1
	done
	[ -n "$pid" ] || lab_die "postfix in $dir wrote no master.pid"
	lab_ledger pid "$pid"
	[ "${LAB_PF_NO_SMTPD:-0}" = 1 ] && return 0
	local listening
	for ((i = 0; i < 150; i++)); do
		listening=$(ip netns exec "$ns" ss -Hltn 'sport = :25' 2>/dev/null)
		local missing=0
		for a in $addrs; do
			grep -qF " $a:25 " <<<"$listening" || missing=1
		done
		[ "$missing" = 0 ] && return 0
		sleep 0.1
	done
	cat "$dir/start.log" "$dir/maillog" >&2 2>/dev/null
	lab_die "postfix in $dir does not listen on $addrs port 25"
}

lab_postfix_stop() {
	local ns=$1 dir=$2 pid i
	pid=$(lab_postfix_master_pid "$dir")
	if [ -n "$pid" ] && lab_alive "$pid"; then
		if ip netns list 2>/dev/null | grep -q "^$ns\\( \\|\$\\)"; then
			timeout 15 ip netns exec "$ns" postfix -c "$dir" stop </dev/null >>"$dir/start.log" 2>&1
		else
			timeout 15 postfix -c "$dir" stop </dev/null >>"$dir/start.log" 2>&1
		fi
		for ((i = 0; i < 100; i++)); do
			lab_alive "$pid" || return 0
			sleep 0.1
		done
		lab_log "postfix master $pid did not stop, killing it"
		kill -KILL "$pid" 2>/dev/null
	fi
}

# The trap: stops daemons (pid files, then the shell's own pids), Postfix
# instances, deletes namespaces, /etc/netns dirs, the work dir. Keeps the
# script's exit status.
lab_cleanup() {
	local rc=$?
	[ "$LAB_CLEANED" = 1 ] && return "$rc"
	LAB_CLEANED=1
	trap - EXIT INT TERM HUP
	local f pid ent ns i
	for f in "${LAB_PIDFILES[@]}"; do
		[ -s "$f" ] && lab_stop_pid "$(head -n 1 "$f")"
	done
	for pid in "${LAB_PIDS[@]}"; do
		lab_stop_pid "$pid"
		wait "$pid" 2>/dev/null
	done
	for ent in "${LAB_POSTFIX[@]}"; do
		lab_postfix_stop "${ent%%|*}" "${ent#*|}"
	done
	# Anything still inside our own namespaces was started by this lab.
	for ns in "${LAB_NETNS[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			lab_log "left in $ns: pid $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)), killing it"
			lab_ledger leftover "$pid"
			kill -KILL "$pid" 2>/dev/null
		done
	done
	for ((i = ${#LAB_NETNS[@]} - 1; i >= 0; i--)); do
		ip netns del "${LAB_NETNS[i]}" 2>/dev/null
	done
	for f in "${LAB_NETNS_ETC[@]}"; do
		rm -rf -- "$f"
	done
	lab_remove_policy_rc
	if [ "${LAB_KEEP:-0}" != 1 ]; then
		for f in "${LAB_RMDIRS[@]}"; do
			rm -rf -- "$f"
		done
	fi
	if [ -n "$LAB_TMP" ] && [ -d "$LAB_TMP" ]; then
		if [ "${LAB_KEEP:-0}" = 1 ]; then
			lab_log "kept $LAB_TMP"
		else
			rm -rf -- "$LAB_TMP"
		fi
	fi
	return "$rc"
}

# lab_verify_clean LEDGER: after the lab's shell is gone, nothing it
# registered may be left: no live pid, namespace, /etc/netns dir or work
# dir. Prints what is left; returns 1 if anything is.
lab_verify_clean() {
	local ledger=$1 kind val bad=0 pid
	[ -r "$ledger" ] || return 0
	while read -r kind val; do
		case $kind in
		pid)
			if lab_alive "$val"; then
				echo "left running: pid $val ($(tr '\0' ' ' <"/proc/$val/cmdline" 2>/dev/null))"
				bad=1
			fi
			;;
		pidfile)
			if [ -s "$val" ]; then
				pid=$(head -n 1 "$val")
				if lab_alive "$pid"; then
					echo "left running: pid $pid from $val"
					bad=1
				fi
			fi
			;;
		leftover)
			echo "the cleanup had to kill pid $val (not stopped by its pid file)"
			bad=1
			;;
		netns)
			if ip netns list 2>/dev/null | grep -q "^$val\\( \\|\$\\)"; then
				echo "left: network namespace $val"
				bad=1
			fi
			;;
		netns-etc | tmpdir | dir)
			if [ -e "$val" ] && { [ "$kind" = netns-etc ] || [ "${LAB_KEEP:-0}" != 1 ]; }; then
				echo "left: $val"
				bad=1
			fi
			;;
		esac
	done <"$ledger"
	return "$bad"
}

# lab_run_isolated: runs the script's lab_body in a subshell whose EXIT trap
# cleans up, passes it SIGTERM / SIGINT / SIGHUP, waits for its real status,
# then checks from outside that the trap left nothing behind (a leftover
# turns a pass into a failure). Returns the status; removes LAB_LEDGER.
lab_run_isolated() {
	local rc leftover
	(lab_body) &
	LAB_CHILD=$!
	LAB_SIGNALLED=0
	trap 'LAB_SIGNALLED=1; kill -TERM "$LAB_CHILD" 2>/dev/null' TERM INT HUP
	while :; do
		wait "$LAB_CHILD"
		rc=$?
		[ "$LAB_SIGNALLED" = 1 ] || break
		LAB_SIGNALLED=0 # wait was interrupted: wait again, for the real status
	done
	trap - TERM INT HUP
	leftover=$(lab_verify_clean "$LAB_LEDGER")
	if [ -n "$leftover" ]; then
		echo "FAIL: the cleanup left things behind:"
		printf '      %s\n' "$leftover"
		[ "$rc" = 0 ] && rc=1
	fi
	rm -f "$LAB_LEDGER"
	return "$rc"
}
