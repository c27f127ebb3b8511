#!/usr/bin/env bash
# bench/run.sh -- mailhole against nmap, zmap and masscan on the shared fleet sim.
#
#   bench/run.sh BUILD_DIR [--rounds N] [--delay-ms "0 2"] [--cases "LIST"] [-o OUTDIR]
#                [--mailhole-flags "FLAGS"] [--idle-wait S] [--idle-max PCT] [--list]
#
# BUILD_DIR/mailhole is the binary under test (`make bench` passes the build folder).
# For each delay setting the script brings up ../shared/bench/fleet-sim.sh (a /16 of
# 65,536 addresses, 1,000 SMTP listeners, inside the fsim-scan / fsim-tgt network
# namespaces on 198.18.0.0/15), runs every case R times -- the cases alternate within a
# round, in an order that rotates from round to round -- each one inside
# `ip netns exec fsim-scan` under GNU time, checks what each tool found against the
# sim's ground truth (/run/fsim/open.txt), and prints one markdown table per delay
# setting (also written to OUTDIR/results.md). The sim is torn down at the end, on
# failure and on interrupt. It measures and prints; it never fails on a slow result.
# Before each run it waits (up to --idle-wait s, default 120) for the machine to be
# idle (busy CPU <= --idle-max %, default 25) and records how busy it was.
#
# Traffic stays inside the sim's namespaces: every target is 198.18.0.0/16 (or the
# sim's ground-truth list), and the only other packets are pings to the sim gateway.
#
# Environment overrides: MAILHOLE_FLAGS (replaces the tuned mailhole flags),
# ZMAP_RATE, MASSCAN_RATE (defaults follow ../shared/bench/run-bench.sh per link),
# CASE_TIMEOUT (s, default 600), FSIM_BIN (where the sim compiles its helpers).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SIMDIR=$(cd "$HERE/../../shared/bench" 2>/dev/null && pwd) || {
    echo "run.sh: the fleet sim is not at $HERE/../../shared/bench" >&2; exit 1; }
SIM=$SIMDIR/fleet-sim.sh
STATE=${FSIM_STATE:-/run/fsim}
export FSIM_BIN=${FSIM_BIN:-/run/fsim-bin} # keep the sim's compiled helpers out of shared/

ALL_CASES=(mailhole-sweep nmap-sT-T5 zmap masscan nmap-smtp-commands)
ROUNDS=3
DELAYS="0 2"
CASES_ARG="mailhole-sweep nmap-sT-T5 zmap masscan nmap-smtp-commands"
OUT=""
BUILD=""
MH_FLAGS_ARG=${MAILHOLE_FLAGS:-}
CASE_TIMEOUT=${CASE_TIMEOUT:-600}
IDLE_WAIT=120
IDLE_MAX=25
ZMAP_RATE_SET=${ZMAP_RATE:-}
MASSCAN_RATE_SET=${MASSCAN_RATE:-}

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "run.sh: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --rounds) ROUNDS=$2; shift 2 ;;
        --rounds=*) ROUNDS=${1#*=}; shift ;;
        --delay-ms) DELAYS=$2; shift 2 ;;
        --delay-ms=*) DELAYS=${1#*=}; shift ;;
        --cases) CASES_ARG=$2; shift 2 ;;
        --cases=*) CASES_ARG=${1#*=}; shift ;;
        --mailhole-flags) MH_FLAGS_ARG=$2; shift 2 ;;
        --idle-wait) IDLE_WAIT=$2; shift 2 ;;
        --idle-max) IDLE_MAX=$2; shift 2 ;;
        -o) OUT=$2; shift 2 ;;
        --list) printf '%s\n' "${ALL_CASES[@]}"; exit 0 ;;
        -h | --help) usage; exit 0 ;;
        -*) usage >&2; die "unknown option $1" ;;
        *) [[ -z $BUILD ]] || die "one BUILD_DIR only"; BUILD=$1; shift ;;
    esac
done

read -r -a CASES <<<"${CASES_ARG//,/ }"
read -r -a DELAY_LIST <<<"${DELAYS//,/ }"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "--rounds wants a positive integer"
[[ ${#CASES[@]} -gt 0 ]] || die "no cases"
[[ $IDLE_WAIT =~ ^[0-9]+$ && $IDLE_MAX =~ ^[0-9]+$ ]] || die "--idle-wait / --idle-max want integers"
for c in "${CASES[@]}"; do
    printf '%s\n' "${ALL_CASES[@]}" | grep -qx -- "$c" || die "unknown case '$c' (have: ${ALL_CASES[*]})"
done
for d in "${DELAY_LIST[@]}"; do [[ $d =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "bad delay '$d'"; done
[[ $(id -u) == 0 ]] || die "must run as root (network namespaces)"

# the peers and helpers, installed from Debian's packages when missing
declare -A PKG_OF=([nmap]=nmap [masscan]=masscan [zmap]=zmap [/usr/bin/time]=time [jq]=jq [ping]=iputils-ping
    [ip]=iproute2 [gcc]=gcc [timeout]=coreutils)
missing=()
for t in "${!PKG_OF[@]}"; do command -v "$t" >/dev/null || missing+=("${PKG_OF[$t]}"); done
if [[ ${#missing[@]} -gt 0 ]] && command -v apt-get >/dev/null; then
    echo "run.sh: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; } ||
        echo "run.sh: could not install ${missing[*]}" >&2
fi
for t in jq ip /usr/bin/time timeout gcc; do command -v "$t" >/dev/null || die "missing $t"; done
need_tool() { command -v "$1" >/dev/null || die "missing $1 (apt-get install -y nmap masscan zmap time jq)"; }
MH=""
for c in "${CASES[@]}"; do
    case $c in
        mailhole-*) [[ -n $BUILD ]] || die "usage: bench/run.sh BUILD_DIR [options]"
            MH=$(cd "$BUILD" && pwd)/mailhole; [[ -x $MH ]] || die "no executable $MH" ;;
        nmap-*) need_tool nmap ;;
        zmap) need_tool zmap ;;
        masscan) need_tool masscan ;;
    esac
done

OUT=${OUT:-$HERE/out/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.md
RAW=$OUT/raw.tsv
printf 'delay_ms\tcase\tround\torder\tbusy_before_pct\twall_s\tuser_s\tsys_s\tmaxrss_kb\tmachine_cpu_s\tfound\texpected\tfalse_pos\tgreeted\trc\tcommand\tother_cpu_s\n' >"$RAW"
: >"$RESULTS"

# ---------------------------------------------------------------- cleanup
SIM_UP=""
TRICKLE_PID=""
trickle_on() { # masscan's receive thread blocks in pcap on a silent link: keep ~20 pps flowing to the sim gateway
    if command -v ping >/dev/null; then
        ip netns exec "$FSIM_NS_SCAN" ping -q -i 0.05 "$FSIM_GW_IP" >/dev/null 2>&1 &
    else # no iputils-ping: a SYN/RST pair to a closed port of the gateway every 50 ms
        ip netns exec "$FSIM_NS_SCAN" bash -c 'while :; do (exec 3<>"/dev/tcp/$0/9") 2>/dev/null; sleep 0.05; done' "$FSIM_GW_IP" &
    fi
    TRICKLE_PID=$!
}
trickle_off() {
    if [[ -n $TRICKLE_PID ]]; then kill "$TRICKLE_PID" 2>/dev/null || true; wait "$TRICKLE_PID" 2>/dev/null || true; fi
    TRICKLE_PID=""
}
CHILD_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $CHILD_PID ]]; then # a case still running: timeout passes the TERM on to the tool
        kill -TERM "$CHILD_PID" 2>/dev/null || true
        wait "$CHILD_PID" 2>/dev/null || true
    fi
    trickle_off
    if [[ -n $SIM_UP ]]; then "$SIM" down >/dev/null 2>&1 || echo "run.sh: fleet-sim down failed" >&2; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

# ---------------------------------------------------------------- cases
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
task_ticks() { awk '/^cpu /{print $2+$3+$4}' /proc/stat; } # user+nice+system: what processes are charged
sim_ticks() { # user+sys ticks of the sim's own processes (listener, delay forwarder)
    local pf pid t=0
    for pf in "$STATE/listener.pid" "$STATE/delay.pid"; do
        [[ -f $pf ]] || continue
        pid=$(cat "$pf" 2>/dev/null) || continue
        [[ -r /proc/$pid/stat ]] && t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
    done
    echo "$t"
}
HZ=$(getconf CLK_TCK)
busy_pct() { # share of all CPUs busy over the next 0.5 s
    local a b
    a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    sleep 0.5
    b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN{ split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; p = 0; if (t > 0) p = 100 * (y[1] - x[1]) / t; printf "%d", p }'
}
wait_idle() { # -> sets BUSY to the last busy % seen; waits up to IDLE_WAIT s for it to drop to IDLE_MAX
    local t0=$SECONDS warned=""
    while :; do
        BUSY=$(busy_pct)
        ((BUSY <= IDLE_MAX)) && return 0
        ((SECONDS - t0 >= IDLE_WAIT)) && { echo "run.sh: WARN machine still ${BUSY}% busy after ${IDLE_WAIT}s; measuring anyway" >&2; return 0; }
        [[ -n $warned ]] || { echo "run.sh: machine ${BUSY}% busy (other work?), waiting up to ${IDLE_WAIT}s for <= ${IDLE_MAX}%" >&2; warned=1; }
        sleep 1
    done
}

mailhole_flags() { # tuned defaults per link; MAILHOLE_FLAGS / --mailhole-flags replace them
    if [[ -n $MH_FLAGS_ARG ]]; then echo "$MH_FLAGS_ARG"; return; fi
    # (veth: no loss, in-flight count hardly matters, 256-512 a hair faster than 2048;
    #  +2 ms tap link: 1024-2048 in flight, the default 1000 ms timeout -- shorter ones cost retries)
    if [[ $FSIM_LINK == tap ]]; then
        echo "--threads 2 --concurrency 2048 --rate 0 --timeout 1000"
    else
        echo "--threads 2 --concurrency 512 --rate 0 --timeout 500"
    fi
}

# case_def CASE -> CMD (array, uses $RES), PARSE, TRICKLE
case_def() {
    TRICKLE=""
    case $1 in
        mailhole-sweep)
            # shellcheck disable=SC2207
            local f=($(mailhole_flags))
            CMD=("$MH" scan "$FSIM_TARGET_NET" -p "$FSIM_PORT" --quiet "${f[@]}" -o "$RES"); PARSE=mailhole ;;
        nmap-sT-T5)
            CMD=(nmap -sT -T5 -n -Pn -p "$FSIM_PORT" --open -oG "$RES" "$FSIM_TARGET_NET"); PARSE=gnmap ;;
        zmap)
            CMD=(zmap -q -C "$EMPTY" -b "$EMPTY" -p "$FSIM_PORT" -i "$FSIM_IF" -G "$FSIM_GW_MAC" -S "$FSIM_SRC_IP"
                -r "$ZMAP_RATE" -c 1 -o "$RES" "$FSIM_TARGET_NET"); PARSE=lines ;;
        masscan)
            CMD=(masscan -p"$FSIM_PORT" "$FSIM_TARGET_NET" --rate "$MASSCAN_RATE" --wait 1 -e "$FSIM_IF"
                --router-mac "$FSIM_GW_MAC" --source-ip "$FSIM_SPARE_IP" -oL "$RES"); PARSE=masscan; TRICKLE=1 ;;
        nmap-smtp-commands) # greets the ground-truth open list only (it has no sweep of its own)
            CMD=(nmap -sT -T5 -n -Pn -p "$FSIM_PORT" --script smtp-commands -iL "$TRUTH" -oN "$RES"); PARSE=nmap-smtpcmd ;;
    esac
}

found_list() { # PARSE FILE -> addresses reported open, one per line
    case $1 in
        mailhole) jq -r '.hosts[]? | select(any(.ports[]?; .state == "open")) | .addr' "$2" ;;
        gnmap) grep -E "[ ,]$FSIM_PORT/open/" "$2" | awk '{print $2}' ;;
        lines) grep -Eo '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+' "$2" ;;
        masscan) awk '$1 == "open" {print $4}' "$2" ;;
        nmap-smtpcmd) awk -v p="$FSIM_PORT/tcp" '/^Nmap scan report for/{ip=$NF} $1==p && $2=="open"{print ip}' "$2" ;;
    esac
}
greeted_count() { # PARSE FILE -> number of SMTP sessions greeted (220 banner + 250 EHLO), or "-"
    case $1 in
        mailhole) jq '[.hosts[]?.ports[]? | select(.smtp.code == 220 and .smtp.ehlo.code == 250)] | length' "$2" ;;
        nmap-smtpcmd) awk '/^Nmap scan report for/{ip=$NF} /smtp-commands: .*PIPELINING/{print ip}' "$2" | sort -u | wc -l ;;
        *) echo - ;;
    esac
}

median() { sort -g | awk '{a[NR]=$1} END{ if (NR == 0) print "-"; else if (NR % 2) printf "%.2f\n", a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }

run_one() { # delay case round order
    local d=$1 c=$2 r=$3 o=$4 tf logf rc b0 b1 k0 k1 s0 s1 wall usr sys rss mcpu ocpu ok fp gr found
    RES=$RAWDIR/$c.$r.out
    tf=$RAWDIR/$c.$r.time
    logf=$RAWDIR/$c.$r.log
    rm -f "$RES" "$tf"
    case_def "$c"
    sleep 0.3 # let the previous run's sockets and the sim settle
    wait_idle
    [[ -n $TRICKLE ]] && { trickle_on; sleep 0.3; }
    b0=$(busy_ticks); k0=$(task_ticks); s0=$(sim_ticks)
    set +e
    # in the background + wait, so that INT/TERM reach the trap at once (it stops the case, then the sim)
    timeout -k 5 "$CASE_TIMEOUT" ip netns exec "$FSIM_NS_SCAN" /usr/bin/time -f '%e %U %S %M' -o "$tf" "${CMD[@]}" \
        </dev/null >"$logf" 2>&1 &
    CHILD_PID=$!
    wait "$CHILD_PID"
    rc=$?
    CHILD_PID=""
    set -e
    b1=$(busy_ticks); k1=$(task_ticks); s1=$(sim_ticks)
    trickle_off
    # mailhole exits 1 when it has findings (--fail-on high by default): not a failure of the scan
    if [[ $rc != 0 ]] && ! [[ $PARSE == mailhole && $rc == 1 && -s $RES ]] ||
        { [[ $PARSE == mailhole && -s $RES ]] && [[ $(jq -r '.scan.complete' "$RES" 2>/dev/null) != true ]]; }; then
        echo "run.sh: WARN $c round $r exited $rc (log: $logf)" >&2
    fi
    if [[ -s $tf ]] && tail -1 "$tf" | grep -Eq '^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$'; then
        read -r wall usr sys rss < <(tail -1 "$tf")
    else
        wall=- usr=- sys=- rss=-
    fi
    mcpu=$(awk -v a="$b0" -v b="$b1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b - a) / hz}')
    # CPU charged to processes that are neither the tool nor the sim (other work on the machine)
    ocpu=$(awk -v k0="$k0" -v k1="$k1" -v s0="$s0" -v s1="$s1" -v u="$usr" -v s="$sys" -v hz="$HZ" \
        'BEGIN{ if (u == "-") { print "-"; exit } o = (k1 - k0 - (s1 - s0)) / hz - u - s; if (o < 0) o = 0; printf "%.2f", o }')
    found=$RAWDIR/$c.$r.found
    if [[ -s $RES ]]; then
        found_list "$PARSE" "$RES" 2>/dev/null | sort -u >"$found" || : >"$found"
        gr=$(greeted_count "$PARSE" "$RES" 2>/dev/null) || gr=-
    else
        : >"$found"; gr=-; [[ $PARSE == mailhole || $PARSE == nmap-smtpcmd ]] && gr=0
    fi
    ok=$(comm -12 "$found" "$TRUTH_SORTED" | wc -l)
    fp=$(comm -23 "$found" "$TRUTH_SORTED" | wc -l)
    if [[ $PARSE == mailhole && -s $RES ]]; then # keep the JSON small: drop it once the summary is taken
        jq -c '{scan, summary}' "$RES" >"$RAWDIR/$c.$r.scan.json" 2>/dev/null || true
    fi
    rm -f "$RES"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$d" "$c" "$r" "$o" "$BUSY" "$wall" "$usr" "$sys" "$rss" \
        "$mcpu" "$ok" "$EXPECTED" "$fp" "$gr" "$rc" "${CMD[*]}" "$ocpu" >>"$RAW"
    printf '  round %s #%s %-20s busy-before %3s%%  wall %6ss cpu %5ss rss %6s MiB  machine-cpu %5ss other %5ss  found %s/%s fp %s greeted %s rc %s\n' \
        "$r" "$o" "$c" "$BUSY" "$wall" "$(awk -v u="$usr" -v s="$sys" 'BEGIN{ if (u == "-") print "-"; else printf "%.2f", u + s }')" \
        "$(awk -v k="$rss" 'BEGIN{ if (k == "-") print "-"; else printf "%.1f", k / 1024 }')" "$mcpu" "$ocpu" "$ok" "$EXPECTED" "$fp" "$gr" "$rc" >&2
}

pretty_cmd() { # the command as shown in the table: result paths shortened, binary path dropped
    sed -e "s#$RAWDIR/[^ ]*\.out#OUT#g" -e "s#$RAWDIR/empty.conf#EMPTY#g" -e "s#$TRUTH#open.txt#g" -e "s#^[^ ]*/mailhole #mailhole #"
}

summarize() { # delay -> markdown on stdout
    local d=$1 c rows busy other wall cpu rss mcpu fmin fmax fp gr cmd fr
    local mh_wall=- mh_cpu=- mh_rss=- mh_fmin=- nt_wall=- nt_cpu=- zm_wall=-
    echo "### added RTT ${d} ms (link=$FSIM_LINK), $ROUNDS round(s), 198.18.0.0/16 port $FSIM_PORT: $EXPECTED of 65,536 open"
    echo
    echo "| case | command | wall s (median) | CPU s user+sys (median) | peak RSS MiB (max) | machine CPU s (median) | found/expected (min..max) | greeted 220+EHLO 250 (min..max) | false pos (max) | busy before run % / other work CPU s (max) |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    for c in "${CASES[@]}"; do
        rows=$(awk -F'\t' -v d="$d" -v c="$c" '$1 == d && $2 == c' "$RAW")
        [[ -n $rows ]] || continue
        busy=$(cut -f5 <<<"$rows" | sort -n | tail -1)
        other=$(cut -f17 <<<"$rows" | grep -v '^-$' | sort -g | tail -1)
        wall=$(cut -f6 <<<"$rows" | grep -v '^-$' | median)
        cpu=$(awk -F'\t' '$7 != "-" {printf "%.2f\n", $7 + $8}' <<<"$rows" | median)
        rss=$(cut -f9 <<<"$rows" | grep -v '^-$' | sort -n | tail -1 | awk '{printf "%.1f", $1 / 1024}')
        [[ -n $rss ]] || rss=-
        mcpu=$(cut -f10 <<<"$rows" | median)
        fmin=$(cut -f11 <<<"$rows" | sort -n | head -1); fmax=$(cut -f11 <<<"$rows" | sort -n | tail -1)
        fr=$fmin; [[ $fmin != "$fmax" ]] && fr="$fmin..$fmax"
        fp=$(cut -f13 <<<"$rows" | sort -n | tail -1)
        gr=$(cut -f14 <<<"$rows" | sort -n | awk 'NR == 1 {a = $1} {b = $1} END{ if (a == b) print a; else print a ".." b }')
        cmd=$(tail -1 <<<"$rows" | cut -f16 | pretty_cmd)
        echo "| $c | \`$cmd\` | $wall | $cpu | $rss | $mcpu | $fr/$EXPECTED | $gr | $fp | $busy / ${other:--} |"
        case $c in
            mailhole-sweep) mh_wall=$wall mh_cpu=$cpu mh_rss=$rss mh_fmin=$fmin ;;
            nmap-sT-T5) nt_wall=$wall nt_cpu=$cpu ;;
            zmap) zm_wall=$wall ;;
        esac
    done
    echo
    echo "Ratios (medians): mailhole/nmap-sT wall **$(ratio "$mh_wall" "$nt_wall")** (target <= 0.50)," \
        "mailhole/zmap wall **$(ratio "$mh_wall" "$zm_wall")** (target <= 1.00)," \
        "mailhole/nmap-sT CPU **$(ratio "$mh_cpu" "$nt_cpu")** (target < 1.00)."
    if [[ $mh_wall != - ]]; then
        local t1 t2 t3 t4 t5
        t1=$([[ $mh_fmin == "$EXPECTED" ]] && echo yes || echo NO)
        t2=$(awk -v a="$mh_wall" -v b="$nt_wall" 'BEGIN{ if (b == "-") print "n/a"; else print (a <= b / 2 ? "yes" : "NO") }')
        t3=$(awk -v a="$mh_wall" -v b="$zm_wall" 'BEGIN{ if (b == "-") print "n/a"; else print (a <= b ? "yes" : "NO") }')
        t4=$(awk -v a="$mh_cpu" -v b="$nt_cpu" 'BEGIN{ if (b == "-") print "n/a"; else print (a < b ? "yes" : "NO") }')
        t5=$(awk -v a="$mh_rss" 'BEGIN{ if (a == "-") print "n/a"; else print (a < 16 ? "yes" : "NO") }')
        echo "Target (informational, not asserted): all found $t1 · wall <= nmap-sT/2 $t2 · wall <= zmap $t3 ·" \
            "CPU < nmap-sT $t4 · peak RSS < 16 MiB $t5."
    fi
    echo
}

# ---------------------------------------------------------------- main
{
    echo "# mailhole benchmark ($(date -u '+%Y-%m-%d %H:%M UTC'))"
    echo
    echo "Machine: $(nproc) cores, $(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
    [[ -n $MH ]] && echo "mailhole: \`$MH\` ($("$MH" --version 2>/dev/null | head -1 || true)), sha256 $(sha256sum "$MH" | cut -c1-12)."
    echo "Peers: $( { nmap --version 2>/dev/null | head -1; zmap --version 2>/dev/null | head -1; masscan --version 2>/dev/null | grep -m1 -o 'version [0-9.]*' | sed 's/^/masscan /'; } | paste -sd ';' | sed 's/;/; /g')."
    echo "Cases alternate within each round; the order rotates from round to round. Wall, CPU (user+sys of the"
    echo "tool and its children) and peak RSS from GNU time; machine CPU is all busy CPU on the box during the run"
    echo "(includes the sim's listener, forwarder and softirq, and any other work on the box). Found = reported-open"
    echo "addresses that are in the ground truth; false pos = reported open but not in it. nmap-smtp-commands only"
    echo "greets the 1,000 open addresses (no sweep); mailhole-sweep sweeps the /16 and greets every listener in"
    echo "the same pass. Each run waits (up to ${IDLE_WAIT} s) for the machine to be <= ${IDLE_MAX}% busy first."
    echo
} | tee -a "$RESULTS"

for d in "${DELAY_LIST[@]}"; do
    echo "run.sh: fleet-sim up --delay-ms $d" >&2
    SIM_UP=1
    "$SIM" up --delay-ms "$d" >"$OUT/sim-up-$d.log" 2>&1 || { cat "$OUT/sim-up-$d.log" >&2; die "fleet-sim up failed"; }
    # shellcheck disable=SC1090,SC1091
    . "$STATE/env"
    if [[ $FSIM_LINK == tap ]]; then ZMAP_RATE=${ZMAP_RATE_SET:-50000} MASSCAN_RATE=${MASSCAN_RATE_SET:-10000}
    else ZMAP_RATE=${ZMAP_RATE_SET:-1000000} MASSCAN_RATE=${MASSCAN_RATE_SET:-1000000}; fi
    RAWDIR=$OUT/raw-delay$d
    mkdir -p "$RAWDIR"
    EMPTY=$RAWDIR/empty.conf; : >"$EMPTY" # zmap: no config file, empty blocklist (the default one lists 198.18.0.0/15)
    TRUTH=$FSIM_OPEN_FILE
    TRUTH_SORTED=$RAWDIR/truth.sorted
    sort -u "$TRUTH" >"$TRUTH_SORTED"
    EXPECTED=$(wc -l <"$TRUTH_SORTED")
    n=${#CASES[@]}
    for r in $(seq "$ROUNDS"); do
        for i in $(seq 0 $((n - 1))); do
            c=${CASES[$(((i + r - 1) % n))]}
            run_one "$d" "$c" "$r" $((i + 1))
        done
    done
    if [[ -f $STATE/listener.pid ]]; then # listener counters (accepted / EHLO / QUIT ...) for the record
        kill -USR1 "$(cat "$STATE/listener.pid")" 2>/dev/null && sleep 0.2 && tail -1 "$STATE/listener.log" >"$RAWDIR/listener-stats.txt" || true
    fi
    summarize "$d" | tee -a "$RESULTS"
    "$SIM" down >/dev/null 2>&1 || true
    SIM_UP=""
done
echo "run.sh: results in $RESULTS (per-run rows in $RAW)" >&2
