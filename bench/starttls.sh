#!/usr/bin/env bash
# bench/starttls.sh -- STARTTLS and certificate facts on many listeners: mailhole
# side by side with `nmap --script ssl-cert` on the same hosts.
#
#   bench/starttls.sh BUILD_DIR [--rounds N] [--net CIDR] [-o OUTDIR] [--idle-wait S]
#
# The fleet sim of ../shared/bench answers STARTTLS with 454 (no TLS), so this bench
# brings up its own: two network namespaces (mhb-PID-s, mhb-PID-t) joined by a veth,
# where every address of --net (default 198.18.24.0/22: 1,024 addresses) is local to
# the target namespace and served by bench/tls-listener.c -- one epoll process with
# real OpenSSL STARTTLS (220 banner, EHLO offering STARTTLS, TLS 1.3 handshake with
# a P-256 certificate made here, EHLO again, QUIT). Traffic stays in the namespaces
# on 198.18.0.0/15.
#
# Cases (each round runs all three, the order rotating from round to round):
#   mailhole-starttls  mailhole scan NET -p 25 --quiet --threads 2 --concurrency 512
#                      --rate 0 --timeout 2000 -o OUT   (sweep + banner + EHLO +
#                      STARTTLS + certificate facts + EHLO over TLS, every address)
#   mailhole-starttls-c128  the same with --concurrency 128 (less memory)
#   nmap-ssl-cert      nmap -sT -T5 -n -Pn -p 25 --script ssl-cert -oN OUT NET
#                      (nmap's ssl-cert does STARTTLS on 25 itself)
# Per case: wall, CPU (user+sys, GNU time), peak RSS; certificates read (mailhole:
# smtp.tls.cert.sha256 present and equal to the certificate's; nmap: an "ssl-cert:
# Subject" block whose SHA-1 is the certificate's). Medians over rounds; the ratio
# mailhole/nmap. Results to OUTDIR/results.md and raw.tsv (default bench/out/starttls-TS).
# Root is needed; nmap, jq, gcc, openssl and GNU time are installed when missing.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROUNDS=3
NET=198.18.24.0/22
OUT=""
BUILD=""
IDLE_WAIT=60
IDLE_MAX=25
CASE_TIMEOUT=${CASE_TIMEOUT:-600}

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "starttls.sh: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --net) NET=$2; shift 2 ;;
        --idle-wait) IDLE_WAIT=$2; shift 2 ;;
        -o) OUT=$2; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option $1" ;;
        *) [[ -z $BUILD ]] || die "one BUILD_DIR only"; BUILD=$1; shift ;;
    esac
done
[[ -n $BUILD ]] || { usage >&2; exit 2; }
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer"
[[ $NET =~ ^198\.1[89]\.[0-9]+\.[0-9]+/(2[2-9]|3[0-2])$ ]] || die "--net must be a /22../32 inside 198.18.0.0/15"
[[ $(id -u) == 0 ]] || die "must run as root (network namespaces)"
MH=$(cd "$BUILD" && pwd)/mailhole
[[ -x $MH ]] || die "no executable $MH"
missing=()
for t in nmap jq gcc openssl /usr/bin/time; do command -v "$t" >/dev/null || missing+=("$t"); done
if [[ ${#missing[@]} -gt 0 ]]; then
    pk=(); for t in "${missing[@]}"; do case $t in /usr/bin/time) pk+=(time) ;; *) pk+=("$t") ;; esac; done
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=300 "${pk[@]}" >/dev/null 2>&1 ||
        die "missing ${missing[*]}"
fi

OUT=${OUT:-$HERE/out/starttls-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/raw"
OUT=$(cd "$OUT" && pwd)
RAW=$OUT/raw.tsv
RESULTS=$OUT/results.md
WORK=$(mktemp -d /tmp/mhb-starttls.XXXXXX)
NS_S=mhb-$$-s
NS_T=mhb-$$-t
LPID=""
CHILD_PID=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ -n $CHILD_PID ]] && { kill -TERM "$CHILD_PID" 2>/dev/null || true; wait "$CHILD_PID" 2>/dev/null || true; }
    if [[ -n $LPID ]]; then kill -TERM "$LPID" 2>/dev/null || true; wait "$LPID" 2>/dev/null || true; fi
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns del "$NS_T" 2>/dev/null || true
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "starttls.sh: interrupted" >&2; exit 130' INT TERM

# ---- the listeners ----------------------------------------------------------
gcc -O2 -Wall -o "$WORK/tls-listener" "$HERE/tls-listener.c" -lssl -lcrypto || die "cannot build tls-listener"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj /CN=mx.tlsbench.test -addext "subjectAltName=DNS:*.tlsbench.test" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1 || die "openssl req failed"
CERT_SHA256=$(openssl x509 -in "$WORK/cert.pem" -noout -fingerprint -sha256 | sed 's/^.*=//' | tr 'A-F' 'a-f')
CERT_SHA1=$(openssl x509 -in "$WORK/cert.pem" -noout -fingerprint -sha1 | sed 's/^.*=//; s/://g' | tr 'A-F' 'a-f')

ip netns add "$NS_S"
ip netns add "$NS_T"
ip -n "$NS_S" link set lo up
ip -n "$NS_T" link set lo up
ip link add "mhb$$s" netns "$NS_S" type veth peer name "mhb$$t" netns "$NS_T"
ip -n "$NS_S" link set "mhb$$s" up
ip -n "$NS_T" link set "mhb$$t" up
ip -n "$NS_S" addr add 198.19.255.1/30 dev "mhb$$s"
ip -n "$NS_T" addr add 198.19.255.2/30 dev "mhb$$t"
ip -n "$NS_S" route add "$NET" via 198.19.255.2
# every address of NET is local in the target namespace: the wildcard listener answers on all
ip -n "$NS_T" route add local "$NET" dev lo table local
for ns in "$NS_S" "$NS_T"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.core.somaxconn=4096 \
        net.ipv4.tcp_max_syn_backlog=8192 >/dev/null 2>&1 || true
done
ip netns exec "$NS_T" "$WORK/tls-listener" -c "$WORK/cert.pem" -k "$WORK/key.pem" -P "$WORK/listener.pid" \
    </dev/null >"$WORK/listener.log" 2>&1 &
LPID=$!
for _ in $(seq 50); do [[ -s $WORK/listener.pid ]] && break; sleep 0.1; done
[[ -s $WORK/listener.pid ]] || die "tls-listener did not start: $(cat "$WORK/listener.log")"
EXPECTED=$(( 1 << (32 - ${NET#*/}) ))

# ---- measuring --------------------------------------------------------------
busy_pct() {
    local a b
    a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    sleep 0.5
    b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN{ split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; p = 0; if (t > 0) p = 100 * (y[1] - x[1]) / t; printf "%d", p }'
}
wait_idle() {
    local t0=$SECONDS
    while :; do
        BUSY=$(busy_pct)
        ((BUSY <= IDLE_MAX)) && return 0
        ((SECONDS - t0 >= IDLE_WAIT)) && { echo "starttls.sh: WARN machine still ${BUSY}% busy; measuring anyway" >&2; return 0; }
        sleep 1
    done
}
listener_ticks() { awk '{print $14 + $15}' "/proc/$(cat "$WORK/listener.pid")/stat"; }
HZ=$(getconf CLK_TCK)

case_cmd() { # case -> CMD
    case $1 in
        mailhole-starttls) CMD=("$MH" scan "$NET" -p 25 --quiet --threads 2 --concurrency 512 --rate 0 --timeout 2000 -o "$RES") ;;
        mailhole-starttls-c128) CMD=("$MH" scan "$NET" -p 25 --quiet --threads 2 --concurrency 128 --rate 0 --timeout 2000 -o "$RES") ;;
        nmap-ssl-cert) CMD=(nmap -sT -T5 -n -Pn -p 25 --script ssl-cert -oN "$RES" "$NET") ;;
    esac
}
certs_read() { # case file -> certificates read that are the listener's
    case $1 in
        mailhole-*) jq --arg f "$CERT_SHA256" '[.hosts[]?.ports[]? | select((.smtp.tls.cert.sha256 // "" | ascii_downcase) == $f)] | length' "$2" ;;
        nmap-ssl-cert) tr 'A-Z' 'a-z' <"$2" | tr -d ' :' | grep -c "sha-1$CERT_SHA1" || true ;;
    esac
}
printf 'case\tround\tbusy_before_pct\twall_s\tuser_s\tsys_s\tmaxrss_kb\tlistener_cpu_s\tcerts\texpected\trc\tcommand\n' >"$RAW"
run_one() { # case round
    local c=$1 r=$2 tf rc wall usr sys rss n l0 l1
    RES=$OUT/raw/$c.$r.out
    tf=$OUT/raw/$c.$r.time
    case_cmd "$c"
    sleep 0.5
    wait_idle
    l0=$(listener_ticks)
    set +e
    timeout -k 5 "$CASE_TIMEOUT" ip netns exec "$NS_S" /usr/bin/time -f '%e %U %S %M' -o "$tf" "${CMD[@]}" \
        </dev/null >"$OUT/raw/$c.$r.log" 2>&1 &
    CHILD_PID=$!
    wait "$CHILD_PID"
    rc=$?
    CHILD_PID=""
    set -e
    l1=$(listener_ticks)
    read -r wall usr sys rss < <(tail -1 "$tf")
    n=$(certs_read "$c" "$RES" 2>/dev/null || echo 0)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$r" "$BUSY" "$wall" "$usr" "$sys" "$rss" \
        "$(awk -v a="$l0" -v b="$l1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b - a) / hz}')" "$n" "$EXPECTED" "$rc" "${CMD[*]}" >>"$RAW"
    printf '  round %s %-18s busy-before %3s%%  wall %6ss cpu %5.2fs rss %6.1f MiB  certs %s/%s rc %s\n' "$r" "$c" "$BUSY" \
        "$wall" "$(awk -v u="$usr" -v s="$sys" 'BEGIN{print u + s}')" "$(awk -v k="$rss" 'BEGIN{print k / 1024}')" "$n" "$EXPECTED" "$rc" >&2
    [[ $c == mailhole-* ]] && jq -c '{scan: {complete: .scan.complete}, summary}' "$RES" >"$OUT/raw/$c.$r.summary.json" 2>/dev/null
    rm -f "$RES"
}

CASES=(mailhole-starttls mailhole-starttls-c128 nmap-ssl-cert)
for ((r = 1; r <= ROUNDS; r++)); do # the order rotates from round to round
    for ((k = 0; k < ${#CASES[@]}; k++)); do run_one "${CASES[$(((k + r) % ${#CASES[@]}))]}" "$r"; done
done

# ---- the table --------------------------------------------------------------
median() { sort -g | awk '{a[NR]=$1} END{ if (NR == 0) print "-"; else if (NR % 2) printf "%.2f\n", a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
{
    echo "# STARTTLS benchmark ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "Machine: $(nproc) cores, $(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "mailhole: \`$MH\` ($("$MH" --version)), sha256 $(sha256sum "$MH" | cut -c1-12). Peer: $(nmap --version | head -1)."
    echo "Targets: $NET ($EXPECTED addresses), every one a TLS-capable SMTP listener (bench/tls-listener.c, TLS 1.3,"
    echo "P-256 certificate); veth, no added latency. Certs = hosts whose certificate the tool reported with the"
    echo "listener's fingerprint. Listener CPU = the target process's CPU during the run (the handshakes' server side)."
    echo
    echo "| case | command | wall s (median) | CPU s user+sys (median) | peak RSS MiB (max) | listener CPU s (median) | certs/expected (min..max) | busy before % (max) |"
    echo "|---|---|---|---|---|---|---|---|"
    for c in "${CASES[@]}"; do
        rows=$(awk -F'\t' -v c="$c" '$1 == c' "$RAW")
        wall=$(cut -f4 <<<"$rows" | median)
        cpu=$(awk -F'\t' '{printf "%.2f\n", $5 + $6}' <<<"$rows" | median)
        rss=$(cut -f7 <<<"$rows" | sort -n | tail -1 | awk '{printf "%.1f", $1 / 1024}')
        lcpu=$(cut -f8 <<<"$rows" | median)
        cmin=$(cut -f9 <<<"$rows" | sort -n | head -1); cmax=$(cut -f9 <<<"$rows" | sort -n | tail -1)
        cr=$cmin; [[ $cmin != "$cmax" ]] && cr="$cmin..$cmax"
        busy=$(cut -f3 <<<"$rows" | sort -n | tail -1)
        cmd=$(tail -1 <<<"$rows" | cut -f12 | sed -e "s#$OUT/raw/[^ ]*#OUT#g" -e "s#^[^ ]*/mailhole #mailhole #")
        echo "| $c | \`$cmd\` | $wall | $cpu | $rss | $lcpu | $cr/$EXPECTED | $busy |"
        eval "W_${c//-/_}=$wall; C_${c//-/_}=$cpu"
    done
    echo
    echo "Ratios (medians): mailhole/nmap wall **$(awk -v a="$W_mailhole_starttls" -v b="$W_nmap_ssl_cert" 'BEGIN{printf "%.2f", a / b}')**," \
        "mailhole/nmap CPU **$(awk -v a="$C_mailhole_starttls" -v b="$C_nmap_ssl_cert" 'BEGIN{printf "%.2f", a / b}')**."
    echo
    echo "Reproduce: \`bench/starttls.sh BUILD_DIR --rounds $ROUNDS --net $NET\` (root)."
} >"$RESULTS"
cat "$RESULTS"
echo "starttls.sh: results in $RESULTS (per-run rows in $RAW)" >&2
