#!/usr/bin/env bash
# bench/probe_submit.sh -- 1,000 tagged probes submitted to a real Postfix relay:
# `mailhole probe send` side by side with swaks sending the same 1,000 messages.
#
#   bench/probe_submit.sh BUILD_DIR [--rounds N] [--probes N] [-o OUTDIR]
#
# One network namespace (mhb-PID-r, 198.18.9.1 on its loopback) runs a Postfix
# relay (tests/lab/lib.sh's instance) that accepts mail for the fleet's hosts
# (relay_domains = lab.test, subdomains included) and discards it once queued
# (relay_transport = discard), so the queue never fills. Both tools run inside the
# namespace, so traffic stays on 198.18.0.0/15 in a namespace this script made.
#
# Cases, each round, order alternating:
#   mailhole   mailhole probe send --policy P --hosts H --state S  (H: N/2 host FQDNs;
#              two probes each, root@ and postmaster@; one SMTP connection; MAIL FROM with
#              RET=HDRS ENVID=TAG and RCPT with NOTIFY=SUCCESS,FAILURE,DELAY ORCPT, as the
#              relay advertises DSN; the state file written after every probe)
#   swaks      N runs of `swaks --server 198.18.9.1 --to root@HOST --from audit+TAG@lab.test
#              --header X-Mailhole-Tag:TAG ...` (one message, one connection a run, as swaks
#              is used; swaks 20201014 cannot send DSN parameters)
# Per case: wall and CPU (user+sys of the case and its children, GNU time); the relay's
# "queued as" count is checked against N. Medians over rounds; the ratio mailhole/swaks.
# Results to OUTDIR/results.md and raw.tsv (default bench/out/probe-submit-TS).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=3
N=1000
OUT=""
BUILD=""
usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "probe_submit.sh: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--rounds) ROUNDS=$2; shift 2 ;;
	--probes) N=$2; shift 2 ;;
	-o) OUT=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	-*) usage >&2; die "unknown option $1" ;;
	*) [[ -z $BUILD ]] || die "one BUILD_DIR only"; BUILD=$1; shift ;;
	esac
done
[[ -n $BUILD ]] || { usage >&2; exit 2; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer"
[[ $N =~ ^[1-9][0-9]*$ && $((N % 2)) == 0 ]] || die "--probes wants a positive even number"
[[ $(id -u) == 0 ]] || die "must run as root (network namespaces)"
MH=$(cd "$BUILD" && pwd)/mailhole
[[ -x $MH ]] || die "no executable $MH"
command -v swaks >/dev/null || apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends swaks >/dev/null
[[ -x /usr/bin/time ]] || apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends time >/dev/null

# shellcheck source=../tests/lab/lib.sh
. "$HERE/../tests/lab/lib.sh"
LAB_LEDGER=$(mktemp "/tmp/mhb-ledger-$$.XXXXXX")
lab_init
lab_install_postfix
[[ -n $OUT ]] || OUT=$HERE/out/probe-submit-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
T=$LAB_TMP
NS=mhb-$$-r
lab_netns_add "$NS"
lab_netns_hosts "$NS" "198.18.9.1 relay.lab.test"
ip -n "$NS" addr add 198.18.9.1/32 dev lo
R=$T/pf-relay
lab_postfix_instance "$NS" "$R" relay.lab.test 198.18.9.1 "$(printf '%s\n' \
	'relay_domains = lab.test' 'relay_transport = discard:' 'default_transport = discard:' \
	'smtpd_client_connection_rate_limit = 0' 'smtpd_client_message_rate_limit = 0' \
	'smtpd_client_connection_count_limit = 0')"

for ((i = 1; i <= N / 2; i++)); do printf 'host-%04d.lab.test\n' "$i"; done >"$T/hosts"
printf 'x\n' >"$T/pass" && chmod 600 "$T/pass"
cat >"$T/policy.json" <<EOF
{ "domain": "lab.test", "relay": "smtp://198.18.9.1:25",
  "collector": { "address": "audit@lab.test", "url": "maildir:$T/Maildir" } }
EOF
# messages the relay took: one qmgr "from=<audit+TAG@lab.test>" line each
queued() { grep -c 'postfix/qmgr\[[0-9]*\]: [0-9A-F]*: from=<audit+' "$R/maillog" 2>/dev/null || true; }

run_mailhole() {
	rm -f "$T/state.json"
	ip netns exec "$NS" "$MH" probe send --quiet --policy "$T/policy.json" --hosts "$T/hosts" \
		--state "$T/state.json" >/dev/null
}
run_swaks() {
	local i h tag
	for ((i = 1; i <= N; i++)); do
		h=$(printf 'host-%04d.lab.test' $(((i + 1) / 2)))
		tag=$(printf 'mhswaks%011d' "$i")
		ip netns exec "$NS" swaks --silent 2 --server 198.18.9.1 --helo bench.lab.test \
			--from "audit+$tag@lab.test" --to "$([ $((i % 2)) = 1 ] && echo root || echo postmaster)@$h" \
			--header "Message-ID: <$tag@mailhole.invalid>" --header "X-Mailhole-Tag: $tag" \
			--header "Subject: mailhole probe $tag" --body "mailhole-tag: $tag" >/dev/null ||
			return 1
	done
}
export -f run_mailhole run_swaks
export NS MH T N

printf 'round\tcase\twall_s\tcpu_s\tmessages\n' >"$OUT/raw.tsv"
for ((r = 1; r <= ROUNDS; r++)); do
	order=(mailhole swaks)
	((r % 2 == 0)) && order=(swaks mailhole)
	for c in "${order[@]}"; do
		before=$(queued)
		/usr/bin/time -f '%e %U %S' -o "$T/time" bash -c "run_$c"
		sleep 1
		after=$(queued)
		read -r wall user sys <"$T/time"
		cpu=$(echo "$user + $sys" | bc -l 2>/dev/null || awk "BEGIN{print $user+$sys}")
		printf '%s\t%s\t%s\t%s\t%s\n' "$r" "$c" "$wall" "$cpu" "$((after - before))" | tee -a "$OUT/raw.tsv"
	done
done

med() { sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
mw=$(awk -F'\t' '$2=="mailhole"{print $3}' "$OUT/raw.tsv" | med)
sw=$(awk -F'\t' '$2=="swaks"{print $3}' "$OUT/raw.tsv" | med)
mc=$(awk -F'\t' '$2=="mailhole"{print $4}' "$OUT/raw.tsv" | med)
sc=$(awk -F'\t' '$2=="swaks"{print $4}' "$OUT/raw.tsv" | med)
{
	echo "# $N probes submitted to a Postfix relay: mailhole probe send vs swaks"
	echo
	echo "$(date -u +%Y-%m-%d), $(nproc) cores, mailhole $("$MH" --version | awk '{print $2}'), $(swaks --version | head -1), Postfix $(postconf -d mail_version 2>/dev/null | awk '{print $3}'); medians of $ROUNDS rounds"
	echo
	echo "| case | wall s | CPU s | messages/s |"
	echo "|---|---|---|---|"
	echo "| mailhole probe send | $mw | $mc | $(awk "BEGIN{printf \"%.0f\", $N/$mw}") |"
	echo "| swaks, one run a message | $sw | $sc | $(awk "BEGIN{printf \"%.0f\", $N/$sw}") |"
	echo
	echo "Ratio mailhole/swaks: wall **$(awk "BEGIN{printf \"%.3f\", $mw/$sw}")**, CPU **$(awk "BEGIN{printf \"%.3f\", $mc/$sc}")**."
	echo
	echo "Command: \`bench/probe_submit.sh $BUILD --rounds $ROUNDS --probes $N\`"
} | tee "$OUT/results.md"
