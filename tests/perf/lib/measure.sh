# shellcheck shell=bash disable=SC2153 # the settings are globals of tests/perf/run
# Load runs and CPU accounting for tests/perf/run (sourced).
#
# All CPU times are in clock ticks (USER_HZ, getconf CLK_TCK): /proc/PID/stat's utime+stime
# counts every thread of a process, including threads that ended during the run, which the
# per-thread schedstat files would miss; /proc/stat gives each CPU's busy time in the same
# unit. Globals used: TMP, PROXY_CPU, LOAD_CPU, CLK_TCK, CONNECTIONS, H2_CONNECTIONS,
# H2_STREAMS, DURATION, WARMUP, MAX_REDO, FOREIGN_MAX, UPSTREAM_PGID, RUNS, PERF_DIR.

# PID_TIMES=(utime+stime stime minflt) of one process (zeros when it is gone): its CPU time,
# the kernel's share of it and its minor page faults, from one read of /proc/PID/stat. Set
# in place rather than printed, so that a snapshot forks no subshell per process.
pid_times() {
    local line fields
    PID_TIMES=(0 0 0)
    read -r line <"/proc/$1/stat" 2>/dev/null || return 0
    # The command name may hold spaces: fields are counted after its closing ')', where
    # field 3 (state) is index 0, so minflt (10), utime (14) and stime (15) are 7, 11, 12.
    read -r -a fields <<<"${line##*) }"
    PID_TIMES=($((fields[11] + fields[12])) "${fields[12]}" "${fields[7]}")
}

# utime+stime of one process (0 when it is gone).
pid_ticks() {
    pid_times "$1"
    echo "${PID_TIMES[0]}"
}

# GROUP_TIMES: PID_TIMES summed over every process of a group (nginx: master and worker).
group_times() {
    local pid
    GROUP_TIMES=(0 0 0)
    for pid in $(group_pids "$1"); do
        pid_times "$pid"
        GROUP_TIMES=($((GROUP_TIMES[0] + PID_TIMES[0])) $((GROUP_TIMES[1] + PID_TIMES[1]))
            $((GROUP_TIMES[2] + PID_TIMES[2])))
    done
}

# utime+stime of every process of a group.
group_ticks() {
    group_times "$1"
    echo "${GROUP_TIMES[0]}"
}

# The CPU time of the harness's finished children (wrk, h2load): cutime+cstime of the main
# shell, which waits for the load generator, so the load generator is accounted for without
# sampling a process that exits.
children_ticks() {
    local line fields
    read -r line <"/proc/$$/stat"
    read -r -a fields <<<"${line##*) }"
    echo $((fields[13] + fields[14]))
}

# Prints "busy irq steal total" of one CPU from /proc/stat: busy is user+nice+system, the time
# of processes (and kernel threads) that their own utime+stime also count; irq is irq+softirq.
cpu_line() {
    local name="cpu$1" label user nice system idle iowait irq softirq steal rest
    while read -r label user nice system idle iowait irq softirq steal rest; do
        [[ $label == "$name" ]] || continue
        echo "$((user + nice + system)) $((irq + softirq)) $steal" \
            "$((user + nice + system + idle + iowait + irq + softirq + steal))"
        return
    done </proc/stat
}

# The kernel threads that take over the softirq work of a CPU under heavy network load: their
# time is the run's own, not another process's.
find_ksoftirqd() {
    KSOFTIRQD_PROXY=$(pgrep -x "ksoftirqd/$PROXY_CPU" || echo 0)
    KSOFTIRQD_LOAD=$(pgrep -x "ksoftirqd/$LOAD_CPU" || echo 0)
}

# snapshot PROXY_PGID before|after prints "proxy upstream children" ticks, the two CPUs'
# "busy irq steal total" (proxy's CPU first), the ticks of each CPU's ksoftirqd, then the
# proxy's system ticks (the kernel's share of its time) and its minor page faults (memory
# the allocator gives back and takes again costs a fault per page). The children are read
# next to the load generator's run (last before it, first after it), so the snapshot's own
# short commands hardly count.
snapshot() {
    local pgid=$1 when=$2 proxy=0 proxy_system=0 proxy_faults=0 upstream children
    [[ $when == after ]] && children=$(children_ticks)
    if [[ -n $pgid ]]; then
        group_times "$pgid"
        read -r proxy proxy_system proxy_faults <<<"${GROUP_TIMES[*]}"
    fi
    upstream=$(group_ticks "$UPSTREAM_PGID")
    [[ $when == before ]] && children=$(children_ticks)
    echo "$proxy $upstream $children $(cpu_line "$PROXY_CPU") $(cpu_line "$LOAD_CPU")" \
        "$(pid_ticks "$KSOFTIRQD_PROXY") $(pid_ticks "$KSOFTIRQD_LOAD") $proxy_system $proxy_faults"
}

# The raw tick counts of a run, kept in the records so that every derived figure can be
# checked.
raw_ticks() {
    local names=(proxy upstream load_generator proxy_cpu_busy proxy_cpu_irq proxy_cpu_steal
        proxy_cpu_total load_cpu_busy load_cpu_irq load_cpu_steal load_cpu_total
        proxy_cpu_ksoftirqd load_cpu_ksoftirqd proxy_system proxy_minor_faults)
    local values=("$@") i out=""
    for i in "${!names[@]}"; do
        out+="${out:+, }\"${names[i]}\": ${values[i]}"
    done
    echo "$out"
}

# wrk latency text (e.g. 512.00us, 1.20ms, 1.01s, 2.00m) to milliseconds.
wrk_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n = n / 1000
        else if (v ~ /ms$/) n = n
        else if (v ~ /m$/) n = n * 60000
        else if (v ~ /s$/) n = n * 1000
        printf "%.3f", n }'
}

# load_command KIND URL DURATION OUT [LOG]: the load generator's command line in LOAD_CMD.
load_command() {
    local kind=$1 url=$2 duration=$3 log=${5:-}
    case $kind in
        wrk)
            LOAD_CMD=(wrk -t1 "-c$CONNECTIONS" "-d$duration" --latency "$url")
            ;;
        h2load)
            # h2load prints no percentiles: its per-request log gives them.
            LOAD_CMD=(h2load -t1 "-c$H2_CONNECTIONS" "-m$H2_STREAMS" "-D$duration" "$url")
            if [[ -n $log ]]; then LOAD_CMD+=("--log-file=$log"); fi
            ;;
        h2load-h1)
            # HTTP/1.1 keep-alive, one request at a time per connection, as wrk sends.
            LOAD_CMD=(h2load --h1 -t1 "-c$CONNECTIONS" -m1 "-D$duration" "$url")
            if [[ -n $log ]]; then LOAD_CMD+=("--log-file=$log"); fi
            ;;
        *) die "unknown load generator $kind" ;;
    esac
}

# Parses a load generator's output into RUN_REQUESTS RUN_RPS RUN_ERRORS and the latencies
# in milliseconds: RUN_AVG, RUN_P50 RUN_P90 RUN_P99 and the longest, RUN_MAX.
parse_load() {
    local kind=$1 out=$2 log=${3:-} stats
    case $kind in
        wrk)
            RUN_REQUESTS=$(awk '/requests in/ {print $1; exit}' "$out")
            RUN_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$out")
            # "Latency 347.39us 243.72us 8.27ms 91.23%": average, deviation, maximum.
            RUN_AVG=$(wrk_ms "$(awk '$1 == "Latency" {print $2; exit}' "$out")")
            RUN_MAX=$(wrk_ms "$(awk '$1 == "Latency" {print $4; exit}' "$out")")
            RUN_P50=$(wrk_ms "$(awk '$1 == "50%" {print $2; exit}' "$out")")
            RUN_P90=$(wrk_ms "$(awk '$1 == "90%" {print $2; exit}' "$out")")
            RUN_P99=$(wrk_ms "$(awk '$1 == "99%" {print $2; exit}' "$out")")
            RUN_ERRORS=$(awk '/Non-2xx or 3xx responses:/ {n += $NF}
                /Socket errors:/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i }
                END {print n + 0}' "$out")
            ;;
        h2load | h2load-h1)
            local protocol=h2c
            [[ $kind == h2load-h1 ]] && protocol=http/1.1
            grep -q "^Application protocol: $protocol\$" "$out" ||
                die "h2load did not speak $protocol: $(grep -i protocol "$out" || tail -3 "$out")"
            # "requests: 100 total, 100 started, 100 done, 98 succeeded, 2 failed, 0 errored,
            # 0 timeout"; "finished in 2.00s, 12345.67 req/s, ..."
            RUN_REQUESTS=$(awk '/^requests:/ {print $6; exit}' "$out")
            RUN_RPS=$(awk '/^finished in/ {print $4; exit}' "$out")
            RUN_ERRORS=$(awk '/^requests:/ {n += $10 + $12 + $14}
                /^status codes:/ {n += $7 + $9} END {print n + 0}' "$out")
            stats=$(python3 "$PERF_DIR/h2load_latency.py" "$log")
            read -r RUN_AVG RUN_P50 RUN_P90 RUN_P99 RUN_MAX <<<"$stats"
            rm -f "$log"
            ;;
    esac
    [[ -n $RUN_REQUESTS && -n $RUN_RPS && $RUN_REQUESTS -gt 0 ]] ||
        die "no requests completed; $kind said: $(tail -5 "$out")"
}

# run_noise DELTA...: "foreign_proxy_cpu% foreign_load_cpu% steal% noisy" of a run from the
# difference of its two snapshots (the proxies' own ticks in the first field). Foreign time
# is what the CPUs were busy with beyond the processes of the run: on the proxy's CPU only
# the proxy should run, on the other the upstream and the load generator. Interrupt time is
# left out (the loopback traffic's own softirqs).
run_noise() {
    local -a delta=("$@")
    awk -v pb="${delta[3]}" -v pt="${delta[6]}" -v lb="${delta[7]}" -v lt="${delta[10]}" \
        -v proxy=$((delta[0] + delta[11])) -v known=$((delta[1] + delta[2] + delta[12])) \
        -v st=$((delta[5] + delta[9])) -v max="$FOREIGN_MAX" \
        'function pct(x, t) { return t > 0 ? 100 * x / t : 0 }
        BEGIN {
            fp = pct(pb - proxy, pt); if (fp < 0) fp = 0
            fl = pct(lb - known, lt); if (fl < 0) fl = 0
            s = pct(st, pt + lt)
            printf "%.2f %.2f %.2f %d\n", fp, fl, s, (fp > max || fl > max || s > max) }'
}

# to_redo WHAT DELTA...: whether a run is to be redone, from its noise (run_noise, read into
# FOREIGN_P FOREIGN_L STEAL NOISY): true, with REDONE counted and the reason logged, while
# the run was noisy and fewer than MAX_REDO runs were redone.
to_redo() {
    local what=$1
    shift
    read -r FOREIGN_P FOREIGN_L STEAL NOISY < <(run_noise "$@")
    [[ $NOISY -eq 1 && $REDONE -lt $MAX_REDO ]] || return 1
    REDONE=$((REDONE + 1))
    log "  $what: other processes used ${FOREIGN_P}% of the proxy's CPU, ${FOREIGN_L}% of" \
        "the other (steal ${STEAL}%): redoing ($REDONE/$MAX_REDO)"
}

# compared_with_baseline BASELINE ID: whether ID is one of the targets BASELINE is
# subtracted from, those of the same proxy (BASELINE may be empty: none is).
compared_with_baseline() {
    [[ -n $1 && $2 != "$1" && ${2%%-*} == "${1%%-*}" ]]
}

# repetition_order REP BASELINE TARGET...: the order of one repetition's runs (BASELINE may
# be empty). Every other repetition runs in reverse, so that a drift of the machine during
# the scenario does not always favour the same target. A baseline runs before and after each
# target of its own proxy, and report.py sets each of their runs against the mean of the two
# baseline runs beside it: what a difference target measures (a filter, about a
# microsecond) is less than this machine's speed drifts within the minute that separates
# runs a repetition apart, and between two neighbours a steady drift cancels.
repetition_order() {
    local rep=$1 baseline=$2 order=() i id last=""
    shift 2
    for id in "$@"; do
        [[ $id == "$baseline" ]] && continue
        if compared_with_baseline "$baseline" "$id"; then
            [[ $last == "$baseline" ]] || order+=("$baseline")
            order+=("$id" "$baseline")
        else
            order+=("$id")
        fi
        last=${order[-1]}
    done
    if ((rep % 2 == 0)); then
        for ((i = ${#order[@]} - 1; i >= 0; i--)); do printf '%s ' "${order[i]}"; done
    else
        printf '%s ' "${order[@]}"
    fi
    echo
}

# measure SCENARIO ID REP KIND URL: one measured run (after a warm-up), redone up to MAX_REDO
# times while another process used one of the two CPUs; appends a record to RUNS, with the
# moment the kept run started, by which report.py finds the runs next to it. A target may
# run more than once in a repetition (a baseline between the runs it is compared with).
declare -A MEASURED_IN_REP
measure() {
    local scenario=$1 id=$2 rep=$3 kind=$4 url=$5
    local occurrence=$((${MEASURED_IN_REP["$scenario/$id/$rep"]:-0} + 1))
    MEASURED_IN_REP["$scenario/$id/$rep"]=$occurrence
    local pgid=${INST_PGID[$id]:-} log="$TMP/$scenario/$id.h2.log"
    local out="$TMP/$scenario/$id.$rep.$occurrence.out"
    local status before after i started wakes="$TMP/$scenario/$id.wakes"
    REDONE=0
    # delta: proxy upstream children, then busy irq steal total of the proxy's CPU and of
    # the load generator's, then the two ksoftirqd, then the proxy's system ticks and minor
    # page faults.
    local -a delta
    while true; do
        load_command "$kind" "$url" "$WARMUP"
        taskset -c "$LOAD_CPU" "${LOAD_CMD[@]}" >"$out" 2>&1 ||
            die "$id: warm-up failed: $(tail -3 "$out")"
        load_command "$kind" "$url" "$DURATION" "$out" "$log"
        # Read outside the snapshots, which stay next to the load generator's run.
        wake_interrupts /proc/interrupts >"$wakes.before"
        read -r -a before <<<"$(snapshot "$pgid" before)"
        started=$EPOCHREALTIME
        status=0
        taskset -c "$LOAD_CPU" "${LOAD_CMD[@]}" >"$out" 2>&1 || status=$?
        read -r -a after <<<"$(snapshot "$pgid" after)"
        wake_interrupts /proc/interrupts >"$wakes.after"
        for i in "${!after[@]}"; do delta[i]=$((after[i] - before[i])); done
        [[ $status -eq 0 ]] || die "$id: $kind failed ($status): $(tail -3 "$out")"
        parse_load "$kind" "$out" "$log"
        to_redo "$id rep $rep" "${delta[@]}" || break
    done
    cp "$out" "${out%.out}.kept"
    local proxy_ticks=${delta[0]}
    local record load_wakes proxy_wakes
    # Counted here, in the measured run, and not only under perf stat, which inflates them.
    read -r load_wakes proxy_wakes < <(run_wake_interrupts "$wakes")
    record=$(awk -v s="$scenario" -v id="$id" -v rep="$rep" -v kind="$kind" -v started="${started/,/.}" \
        -v req="$RUN_REQUESTS" -v rps="$RUN_RPS" -v avg="$RUN_AVG" \
        -v p50="$RUN_P50" -v p90="$RUN_P90" -v p99="$RUN_P99" -v max_ms="$RUN_MAX" \
        -v err="$RUN_ERRORS" -v pticks="$proxy_ticks" -v psys="${delta[13]}" -v pflt="${delta[14]}" \
        -v hz="$CLK_TCK" -v has_proxy=$((${#pgid} > 0)) \
        -v pbusy=$((delta[3] + delta[4])) -v ptotal="${delta[6]}" \
        -v lbusy=$((delta[7] + delta[8])) -v ltotal="${delta[10]}" \
        -v fp="$FOREIGN_P" -v fl="$FOREIGN_L" -v steal="$STEAL" -v redone="$REDONE" -v noisy="$NOISY" \
        -v ticks="$(raw_ticks "${delta[@]}")" -v lwake="$load_wakes" -v pwake="$proxy_wakes" \
        'BEGIN {
            cpu = has_proxy ? sprintf("%.3f", pticks / hz * 1e6 / req) : "null"
            core = has_proxy ? sprintf("%.3f", pbusy / hz * 1e6 / req) : "null"
            user_us = has_proxy ? sprintf("%.3f", (pticks - psys) / hz * 1e6 / req) : "null"
            sys_us = has_proxy ? sprintf("%.3f", psys / hz * 1e6 / req) : "null"
            printf "{\"scenario\": \"%s\", \"target\": \"%s\", \"rep\": %d, \"tool\": \"%s\", ", s, id, rep, kind
            printf "\"started\": %s, ", started
            printf "\"requests\": %d, \"rps\": %.2f, \"avg_ms\": %.3f, \"p99_ms\": %.3f, \"errors\": %d, ", req, rps, avg, p99, err
            printf "\"p50_ms\": %.3f, \"p90_ms\": %.3f, \"max_ms\": %.3f, ", p50, p90, max_ms
            printf "\"proxy_cpu_ticks\": %d, \"cpu_us_per_request\": %s, \"core_us_per_request\": %s, ", pticks, cpu, core
            printf "\"user_us_per_request\": %s, \"system_us_per_request\": %s, ", user_us, sys_us
            printf "\"minor_faults_per_request\": %s, ", has_proxy ? sprintf("%.4f", pflt / req) : "null"
            printf "\"load_cpu_wake_interrupts_per_request\": %s, ", lwake == "n/a" ? "null" : lwake
            printf "\"proxy_cpu_wake_interrupts_per_request\": %s, ", pwake == "n/a" ? "null" : pwake
            printf "\"proxy_busy_pct\": %s, ", has_proxy ? sprintf("%.1f", 100 * pticks / ptotal) : "null"
            printf "\"proxy_core_busy_pct\": %.1f, \"load_core_busy_pct\": %.1f, ", 100 * pbusy / ptotal, 100 * lbusy / ltotal
            printf "\"foreign_proxy_core_pct\": %s, \"foreign_load_core_pct\": %s, \"steal_pct\": %s, ", fp, fl, steal
            printf "\"redone\": %d, \"noisy\": %s, \"ticks\": {%s}}\n", redone, noisy ? "true" : "false", ticks }')
    echo "$record" >>"$RUNS"
    log "  $id rep $rep: $RUN_REQUESTS requests, $RUN_RPS req/s, p99 ${RUN_P99} ms," \
        "errors $RUN_ERRORS, proxy $(awk -v t="$proxy_ticks" -v hz="$CLK_TCK" -v r="$RUN_REQUESTS" \
            'BEGIN { printf "%.1f", t / hz * 1e6 / r }') us/request" \
        "(foreign ${FOREIGN_P}%/${FOREIGN_L}%, redone $REDONE)"
}

# side_by_side_load DURATION OUT_PREFIX BASELINE_URL URL: the two wrk of a side-by-side run
# at once, half the connections each, so that as many requests are in flight as in a run of
# one target; their outputs in OUT_PREFIX.baseline.out and OUT_PREFIX.out.
side_by_side_load() {
    local duration=$1 out=$2 half=$(((CONNECTIONS + 1) / 2)) baseline_load load
    taskset -c "$LOAD_CPU" wrk -t1 "-c$half" "-d$duration" --latency "$3" >"$out.baseline.out" 2>&1 &
    baseline_load=$!
    taskset -c "$LOAD_CPU" wrk -t1 "-c$half" "-d$duration" --latency "$4" >"$out.out" 2>&1 &
    load=$!
    wait "$baseline_load" || die "wrk against the baseline failed: $(tail -3 "$out.baseline.out")"
    wait "$load" || die "wrk failed: $(tail -3 "$out.out")"
}

# measure_side_by_side SCENARIO BASELINE ID REP BASELINE_URL URL: BASELINE and ID (two
# Ferrogate processes, both on the proxy's CPU) loaded at the same moment, each by its own
# wrk, and each one's CPU time read over the same seconds. A drift of the machine, which
# within seconds can exceed what a filter costs, then moves both alike, and ID's CPU per
# request minus BASELINE's is what ID's configuration adds (report.py: targets 2a and 2b).
# Redone as measure() is; appends a record with both figures to RUNS.
measure_side_by_side() {
    local scenario=$1 baseline=$2 id=$3 rep=$4 baseline_url=$5 url=$6
    local baseline_pgid=${INST_PGID[$baseline]} pgid=${INST_PGID[$id]}
    local out="$TMP/$scenario/side-by-side.$id.$rep" started i record
    local baseline_requests baseline_errors
    REDONE=0
    local -a before after delta mine_before mine_delta
    while true; do
        side_by_side_load "$WARMUP" "$out.warm-up" "$baseline_url" "$url"
        group_times "$pgid"
        mine_before=("${GROUP_TIMES[@]}")
        read -r -a before <<<"$(snapshot "$baseline_pgid" before)"
        started=$EPOCHREALTIME
        side_by_side_load "$DURATION" "$out" "$baseline_url" "$url"
        read -r -a after <<<"$(snapshot "$baseline_pgid" after)"
        group_times "$pgid"
        for i in "${!after[@]}"; do delta[i]=$((after[i] - before[i])); done
        for i in 0 1 2; do mine_delta[i]=$((GROUP_TIMES[i] - mine_before[i])); done
        # Both processes are the run's own on the proxy's CPU.
        to_redo "$id beside $baseline rep $rep" $((delta[0] + mine_delta[0])) "${delta[@]:1}" ||
            break
    done
    parse_load wrk "$out.baseline.out"
    baseline_requests=$RUN_REQUESTS baseline_errors=$RUN_ERRORS
    parse_load wrk "$out.out"
    record=$(awk -v s="$scenario" -v id="$id" -v base="$baseline" -v rep="$rep" \
        -v started="${started/,/.}" -v hz="$CLK_TCK" \
        -v req="$RUN_REQUESTS" -v base_req="$baseline_requests" \
        -v err=$((RUN_ERRORS + baseline_errors)) \
        -v ticks="${mine_delta[0]}" -v sys="${mine_delta[1]}" \
        -v base_ticks="${delta[0]}" -v base_sys="${delta[13]}" \
        -v pbusy=$((delta[3] + delta[4])) -v ptotal="${delta[6]}" \
        -v fp="$FOREIGN_P" -v fl="$FOREIGN_L" -v steal="$STEAL" -v redone="$REDONE" -v noisy="$NOISY" \
        'function us(t, r) { return sprintf("%.3f", t / hz * 1e6 / r) }
        BEGIN {
            printf "{\"scenario\": \"%s\", \"target\": \"%s\", \"baseline\": \"%s\", ", s, id, base
            printf "\"rep\": %d, \"tool\": \"wrk-side-by-side\", \"started\": %s, ", rep, started
            printf "\"requests\": %d, \"baseline_requests\": %d, \"errors\": %d, ", req, base_req, err
            printf "\"cpu_us_per_request\": %s, \"baseline_cpu_us_per_request\": %s, ", us(ticks, req), us(base_ticks, base_req)
            printf "\"user_us_per_request\": %s, ", us(ticks - sys, req)
            printf "\"baseline_user_us_per_request\": %s, ", us(base_ticks - base_sys, base_req)
            printf "\"proxy_ticks\": %d, \"baseline_proxy_ticks\": %d, ", ticks, base_ticks
            printf "\"proxy_core_busy_pct\": %.1f, ", 100 * pbusy / ptotal
            printf "\"foreign_proxy_core_pct\": %s, \"foreign_load_core_pct\": %s, \"steal_pct\": %s, ", fp, fl, steal
            printf "\"redone\": %d, \"noisy\": %s}\n", redone, noisy ? "true" : "false" }')
    echo "$record" >>"$RUNS"
    log "  $id beside $baseline rep $rep: $(awk -v t="${mine_delta[0]}" -v r="$RUN_REQUESTS" \
        -v bt="${delta[0]}" -v br="$baseline_requests" -v hz="$CLK_TCK" \
        'BEGIN { a = t / hz * 1e6 / r; b = bt / hz * 1e6 / br
                 printf "%.1f against %.1f us/request, %+.2f", a, b, a - b }')" \
        "(foreign ${FOREIGN_P}%/${FOREIGN_L}%, redone $REDONE)"
}

# RSS (VmRSS, KiB) of every process of a group.
group_rss_kb() {
    local total=0 pid key value
    for pid in $(group_pids "$1"); do
        while read -r key value _; do
            [[ $key == VmRSS: ]] && total=$((total + value))
        done <"/proc/$pid/status"
    done
    echo "$total"
}

# open_idle_connections LABEL PORT N CONCURRENCY FILES: starts the idle client on the load
# CPU, which opens N keep-alive connections to PORT (one request each, CONCURRENCY at a
# time) and holds them, and waits until they are open. IDLE_READY is then its report (JSON);
# FILES is the path prefix of its two FIFOs and its error log; LABEL names the target in the
# error, should the client fail. check_idle_connections ends what this started.
open_idle_connections() {
    local label=$1 port=$2 connections=$3 concurrency=$4 files=$5
    mkfifo "$files.in" "$files.out"
    taskset -c "$LOAD_CPU" python3 "$PERF_DIR/idle_client.py" --port "$port" \
        --connections "$connections" --concurrency "$concurrency" \
        <"$files.in" >"$files.out" 2>"$files.err" &
    IDLE_CLIENT=$!
    exec {IDLE_TO_CLIENT}>"$files.in" {IDLE_FROM_CLIENT}<"$files.out"
    if ! read -r -t 600 IDLE_READY <&"$IDLE_FROM_CLIENT"; then
        exec {IDLE_TO_CLIENT}>&- {IDLE_FROM_CLIENT}<&-
        wait "$IDLE_CLIENT" || true
        die "$label: the idle client failed: $(tail -3 "$files.err")"
    fi
}

# check_idle_connections: asks the idle client how many of its connections are still open
# (IDLE_RESULT, JSON; {} when it does not answer), then lets it close them and exit.
check_idle_connections() {
    echo check >&"$IDLE_TO_CLIENT"
    read -r -t 600 IDLE_RESULT <&"$IDLE_FROM_CLIENT" || IDLE_RESULT='{}'
    exec {IDLE_TO_CLIENT}>&- {IDLE_FROM_CLIENT}<&-
    wait "$IDLE_CLIENT" || true
}

# measure_idle ID REP: opens IDLE_CONNECTIONS keep-alive connections to the instance (one
# request each), reads its RSS before and after, then checks every connection still works.
measure_idle() {
    local scenario=$1 id=$2 rep=$3 pgid=${INST_PGID[$2]}
    local port=${INST_H1[$id]} before after ready result
    # A short load first, so that what every proxy allocates once (pools, buffers, caches)
    # is in place before the baseline.
    load_command wrk "http://127.0.0.1:$port/" 1s
    taskset -c "$LOAD_CPU" "${LOAD_CMD[@]}" >/dev/null 2>&1 || die "$id: warm-up failed"
    sleep 1
    before=$(group_rss_kb "$pgid")
    open_idle_connections "$id" "$port" "$IDLE_CONNECTIONS" "$CONNECTIONS" "$TMP/idle/$id.$rep"
    ready=$IDLE_READY
    sleep "$IDLE_HOLD"
    after=$(group_rss_kb "$pgid")
    check_idle_connections
    result=$IDLE_RESULT
    local record
    record=$(python3 - "$scenario" "$id" "$rep" "$before" "$after" "$IDLE_HOLD" "$ready" "$result" <<'EOF'
import json, sys
scenario, target, rep, before, after, hold = sys.argv[1:7]
ready, result = json.loads(sys.argv[7]), json.loads(sys.argv[8] or "{}")
opened = ready.get("opened", 0)
record = {
    "scenario": scenario, "target": target, "rep": int(rep), "tool": "idle_client",
    "connections": ready.get("requested", 0), "opened": opened,
    "open_failures": ready.get("failed", 0), "open_errors": ready.get("errors", {}),
    "open_seconds": ready.get("seconds"), "hold_seconds": float(hold),
    "rss_before_kb": int(before), "rss_after_kb": int(after),
    "rss_bytes_per_connection": round((int(after) - int(before)) * 1024 / opened, 1) if opened else None,
    "still_open": result.get("still_open"), "closed": result.get("closed"),
    "check_errors": result.get("errors", {}),
}
print(json.dumps(record))
EOF
)
    echo "$record" >>"$RUNS"
    log "  $id rep $rep: RSS ${before} -> ${after} KiB; $ready; after the hold: $result"
}

# wake_interrupts SOURCE: the rescheduling and function-call interrupts each CPU has taken,
# from a listing laid out as /proc/interrupts, as "CPU COUNT" lines. A CPU takes one of them
# when another wakes a task on it while it is idle (or must preempt what it runs), which a
# VM pays for dearly. Nothing where the kernel lists neither (other architectures).
wake_interrupts() {
    awk 'NR == 1 { for (i = 1; i <= NF; i++) cpu[i] = substr($i, 4); n = NF; next }
        $1 == "RES:" || $1 == "CAL:" { for (i = 1; i <= n; i++) count[i] += $(i + 1); seen = 1 }
        END { if (seen) for (i = 1; i <= n; i++) print cpu[i], count[i] + 0 }' "$1"
}

# wake_interrupts_per_request BEFORE AFTER CPU REQUESTS: CPU's wake-up interrupts between two
# wake_interrupts listings, per request ("n/a" without both counts or requests).
wake_interrupts_per_request() {
    awk -v cpu="$3" -v requests="$4" '
        FILENAME == ARGV[1] { before[$1] = $2; next }
        { after[$1] = $2 }
        END {
            if ((cpu in before) && (cpu in after) && requests > 0)
                printf "%.3f\n", (after[cpu] - before[cpu]) / requests
            else
                print "n/a"
        }' "$1" "$2"
}

# run_wake_interrupts BASE: "LOAD PROXY", the wake-up interrupts the load generator's CPU and
# the proxy's took per request of the last run (RUN_REQUESTS), between the listings
# BASE.before and BASE.after. A proxy that leaves the load generator's CPU idle between its
# responses wakes it with an interrupt for each; one that keeps it busy rarely does
# (docs/development.md, "The floor over io_uring" and "Wake-up interrupts in the measured
# runs").
run_wake_interrupts() {
    echo "$(wake_interrupts_per_request "$1.before" "$1.after" "$LOAD_CPU" "$RUN_REQUESTS")" \
        "$(wake_interrupts_per_request "$1.before" "$1.after" "$PROXY_CPU" "$RUN_REQUESTS")"
}

# profile SCENARIO ID KIND URL: with PROFILE set (a directory), one more run of the target
# under `perf stat` (system calls and context switches of the proxy's processes), `nstat`
# (the TCP segments and acknowledgements of the whole run) and /proc/interrupts (the wake-up
# interrupts each of the two CPUs took), and one under `perf record`, after the measured
# runs; the counts per request go to PROFILE/summary.tsv, the hottest symbols to
# PROFILE/SCENARIO.ID.{symbols,dso}.txt, the call stacks to SCENARIO.ID.folded and the flame
# graph drawn from them to SCENARIO.ID.svg.
# The profiled runs are not measured: perf's own cost would count against the proxy.
profile() {
    local scenario=$1 id=$2 kind=$3 url=$4 pgid=${INST_PGID[$2]:-} pids base latency_log
    local load_wakes proxy_wakes
    [[ -n ${PROFILE:-} && -n $pgid ]] || return 0
    pids=$(group_pids "$pgid" | paste -sd, -)
    base="$PROFILE/$scenario.$id"
    # h2load's latencies come only from its per-request log, which parse_load reads and
    # removes; wrk ignores it.
    latency_log="$base.requests.log"
    load_command "$kind" "$url" "$DURATION" "" "$latency_log"
    # The kernel's counters are per network namespace, so they count the client's and the
    # upstream's segments too; those are the same for every proxy, and a proxy that splits
    # its writes or makes the kernel send more acknowledgements shows as more per request.
    NSTAT_HISTORY="$base.nstat.history" nstat -n
    wake_interrupts /proc/interrupts >"$base.wakes.before"
    # No CPU time here: counting every system call slows the proxy down.
    perf stat -x, -o "$base.stat" -e raw_syscalls:sys_enter,context-switches \
        -p "$pids" -- taskset -c "$LOAD_CPU" "${LOAD_CMD[@]}" >"$base.stat.out" 2>&1 ||
        die "$id: perf stat failed: $(tail -3 "$base.stat.out" "$base.stat")"
    NSTAT_HISTORY="$base.nstat.history" nstat -z >"$base.nstat"
    wake_interrupts /proc/interrupts >"$base.wakes.after"
    parse_load "$kind" "$base.stat.out" "$latency_log"
    # Counted under perf stat, whose cost per system call slows the proxy and so leaves the
    # load generator's CPU idle more often: more than the measured runs' records show, the
    # more so the more system calls a proxy makes.
    read -r load_wakes proxy_wakes < <(run_wake_interrupts "$base.wakes")
    awk -v s="$scenario" -v id="$id" -v r="$RUN_REQUESTS" -v load_wakes="$load_wakes" \
        -v proxy_wakes="$proxy_wakes" '
        FILENAME ~ /\.stat$/ { split($0, f, ",") }
        FILENAME ~ /\.stat$/ && f[3] == "raw_syscalls:sys_enter" { sc = f[1] }
        FILENAME ~ /\.stat$/ && f[3] == "context-switches" { cs = f[1] }
        FILENAME ~ /\.nstat$/ && $1 == "TcpOutSegs" { segs = $2 }
        FILENAME ~ /\.nstat$/ && $1 == "TcpExtTCPPureAcks" { acks = $2 }
        FILENAME ~ /\.nstat$/ && $1 == "TcpExtDelayedACKs" { delayed = $2 }
        END { printf "%s\t%s\tsyscalls/request %.2f\tcontext switches/request %.3f" \
            "\tTCP segments/request %.2f\tpure ACKs received/request %.3f" \
            "\tdelayed ACKs/request %.3f\twake-up interrupts/request, load CPU %s" \
            "\twake-up interrupts/request, proxy CPU %s\n", \
            s, id, sc / r, cs / r, segs / r, acks / r, delayed / r, load_wakes, proxy_wakes }' \
        "$base.stat" "$base.nstat" | tee -a "$PROFILE/summary.tsv" >&2
    record_stacks "$base" "$pids" taskset -c "$LOAD_CPU" "${LOAD_CMD[@]}" ||
        die "$id: perf record failed: $(tail -3 "$base.record.out")"
    parse_load "$kind" "$base.record.out" "$latency_log"
    perf report -q -i "$base.data" --stdio --no-children -g none --sort sym \
        --percent-limit 0.5 >"$base.symbols.txt" 2>/dev/null || true
    perf report -q -i "$base.data" --stdio --no-children -g none --sort dso \
        >"$base.dso.txt" 2>/dev/null || true
    flame_graph "$scenario" "$id" "$base"
    log "  $id: profile in $base.{symbols,dso}.txt, flame graph $base.svg" \
        "($base.data for perf report)"
}

# prepare_profile: with PROFILE set, makes it an absolute path to an existing directory and
# gets inferno, into the build's target/perf-tools.
prepare_profile() {
    [[ -n ${PROFILE:-} ]] || return 0
    PROFILE=$(mkdir -p "$PROFILE" && cd "$PROFILE" && pwd)
    ensure_inferno "$(target_dir "$PERF_DIR/../..")/perf-tools"
}

# require_symbolizable PATH...: with PROFILE set, refuses binaries (or the directory they
# will be built in, which need not exist yet) whose real path starts with /tmp/perf-. perf
# takes every such file for a JIT symbol map (/tmp/perf-PID.map, as the plugin runtime
# writes them), reads no symbols from it and unwinds none of its frames: the profile would
# come out as bare addresses, with no error anywhere (a checkout cloned to
# /tmp/perf-something did exactly that).
require_symbolizable() {
    [[ -n ${PROFILE:-} ]] || return 0
    local binary real
    for binary in "$@"; do
        real=$(realpath -m -- "$binary") || die "cannot resolve the path of $binary"
        [[ $real != /tmp/perf-* ]] ||
            die "PROFILE: perf would read no symbols from $real: it takes every file under" \
                "/tmp/perf-* for a JIT symbol map. Run from a checkout elsewhere, or point" \
                "CARGO_TARGET_DIR (or FERROGATE_BIN) outside /tmp/perf-*."
    done
}

# perf record's settings for the flame graphs (the header of tests/perf/run explains them).
PROFILE_HZ=${PROFILE_HZ:-999}
PROFILE_STACK=${PROFILE_STACK:-65528}
check_profile_settings() {
    [[ $PROFILE_HZ =~ ^[1-9][0-9]*$ ]] || die "PROFILE_HZ must be a positive integer"
    # perf's own limits on the stack it copies per sample.
    [[ $PROFILE_STACK =~ ^[1-9][0-9]*$ && $PROFILE_STACK -le 65528 && $((PROFILE_STACK % 8)) -eq 0 ]] ||
        die "PROFILE_STACK must be a multiple of 8 between 8 and 65528 (bytes)"
}

# record_stacks BASE PIDS COMMAND...: samples the call stacks of the processes PIDS (comma
# separated) into BASE.data while COMMAND runs (its output in BASE.record.out).
record_stacks() {
    local base=$1 pids=$2
    shift 2
    # Neither Ferrogate's release build nor Debian's nginx and HAProxy keep frame pointers,
    # so perf's default unwinder stops at the first user-space frame. With dwarf, perf
    # copies the top PROFILE_STACK bytes of the thread's stack at each sample and unwinds
    # them later from the binaries' .eh_frame, for every proxy the same way. The copies
    # make the data big (about 16 MB per second of load), and they compress well: -z.
    perf record -q -z --call-graph "dwarf,$PROFILE_STACK" -F "$PROFILE_HZ" -o "$base.data" \
        -p "$pids" -- "$@" >"$base.record.out" 2>&1
}

# flame_graph SCENARIO ID BASE [OPTION...]: BASE.data's call stacks, folded (BASE.folded,
# one line per distinct stack, kernel frames marked _[k], inlined ones _[i], plugin code
# _[j]) and drawn (BASE.svg, to open in a browser: a click zooms, Ctrl-F searches). The
# folded counts are the nanoseconds of CPU each stack was sampled for;
# BASE.per-request.folded divides them by the requests of the profiled run (RUN_REQUESTS),
# so that a frame's width reads as nanoseconds per request (perf's own cost included).
# OPTIONs go to folded_stacks.py.
flame_graph() {
    local scenario=$1 id=$2 base=$3 stacks
    shift 3
    perf script -i "$base.data" 2>"$base.script.err" |
        "$INFERNO/inferno-collapse-perf" --quiet --all >"$base.folded" ||
        die "$id: folding the call stacks of $base.data failed: $(tail -3 "$base.script.err")"
    [[ -s $base.folded ]] || die "$id: perf script found no call stacks in $base.data"
    stacks=$(python3 "$PERF_DIR/folded_stacks.py" "$base.folded" "$RUN_REQUESTS" \
        --per-request "$base.per-request.folded" "$@") || die "$id: cannot read $base.folded"
    draw_flame_graph "$scenario: $id" \
        "$stacks (perf record --call-graph dwarf,$PROFILE_STACK -F $PROFILE_HZ)" \
        <"$base.per-request.folded" >"$base.svg" ||
        die "$id: inferno-flamegraph failed on $base.per-request.folded"
    log "  $id: $stacks"
}

# draw_flame_graph TITLE SUBTITLE [OPTION...]: folded stacks in picoseconds per request on
# stdin, an SVG in nanoseconds per request on stdout.
draw_flame_graph() {
    local title=$1 subtitle=$2
    shift 2
    "$INFERNO/inferno-flamegraph" --title "$title" --subtitle "$subtitle" \
        --countname "ns per request" --factor 0.001 --colors java --hash --minwidth 0.05 "$@"
}
