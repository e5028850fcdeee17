#!/usr/bin/env bash
# Proxy performance comparison: Ferrogate (release build) against nginx as a reverse proxy,
# with the upstream measured directly as a baseline. Not part of the test suite: run it by
# hand, on an otherwise idle machine with at least 2 CPUs.
#
#   tests/perf/proxy-compare.sh            # defaults below
#   DURATION=30s REPS=5 tests/perf/proxy-compare.sh
#
# What it does:
#   1. Installs nginx (nginx-light, else nginx) and wrk with apt-get when they are missing
#      (as root, or through sudo). Idempotent: nothing is installed when both are there.
#   2. Builds Ferrogate: `cargo build --release -p ferrogate` (the first build takes minutes).
#   3. Starts, on 127.0.0.1 and free ports, all in one temporary directory:
#      - upstream: nginx, 1 worker, keep-alive, answering every request with a fixed 1 KiB
#        text body (from memory: `return 200`), access log off;
#      - Ferrogate: a route sending everything to the upstream with ReverseProxyHandler and a
#        `baseURI` decoration (its default connection pool keeps upstream connections alive);
#      - nginx as a reverse proxy: 1 worker, `upstream { keepalive 32; }`,
#        `proxy_http_version 1.1`, `proxy_set_header Connection ""`, access log off.
#      The proxy under test is pinned to CPU 0 (so Ferrogate's tokio runtime gets 1 worker
#      thread, like nginx's 1 worker); wrk and the upstream share CPU 1 (taskset). The baseline
#      (wrk straight to the upstream) therefore runs wrk and the upstream on the same CPU.
#   4. For REPS repetitions, interleaved (upstream, ferrogate, nginx, upstream, ...): a short
#      warm-up, then `wrk -t1 -cCONNECTIONS -dDURATION --latency` (keep-alive). Records
#      requests/s, average and p99 latency, non-2xx/3xx answers and socket errors, and the
#      proxy process's CPU time per request: utime+stime from /proc/PID/stat (all threads,
#      and for nginx the master plus its workers) before and after, in clock ticks
#      (getconf CLK_TCK), divided by the requests wrk completed.
#   5. Prints a markdown table of the medians and stops every process it started (trap),
#      also on failure or Ctrl-C.
#
# Settings (environment): DURATION (10s), CONNECTIONS (32), REPS (3), WARMUP (2s),
# PROXY_CPU (0), LOAD_CPU (1), KEEP_TMP=1 keeps the temporary directory for inspection.
# CPU microseconds per request have the resolution of one clock tick (usually 10 ms) over the
# whole run: about 0.1 % for a 10 s run of a busy proxy.

set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
REPS=${REPS:-3}
WARMUP=${WARMUP:-2s}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BODY_SIZE=1024

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TMP=$(mktemp -d -t ferrogate-perf.XXXXXX)
PIDS=()

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- 1. tools ----

find_nginx() {
    command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true
}

install_missing() {
    local missing=()
    [[ -n $(find_nginx) ]] || missing+=(nginx)
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
    [[ ${#missing[@]} -eq 0 ]] && return
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "missing ${missing[*]} and not root (no sudo)"
        sudo=(sudo)
    fi
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]}: install them (no apt-get here)"
    log "installing ${missing[*]} with apt-get"
    local packages=()
    for name in "${missing[@]}"; do
        case $name in
            nginx) packages+=(nginx-light) ;;
            *) packages+=("$name") ;;
        esac
    done
    "${sudo[@]}" apt-get update -qq
    if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${packages[@]}" >&2; then
        # Debian 13 and later have no nginx-light.
        packages=("${packages[@]/nginx-light/nginx}")
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${packages[@]}" >&2
    fi
}

install_missing
NGINX=$(find_nginx)
[[ -n $NGINX ]] || die "nginx not found after installation"
CLK_TCK=$(getconf CLK_TCK)
[[ $(nproc --all) -gt $LOAD_CPU && $(nproc --all) -gt $PROXY_CPU ]] ||
    die "CPUs $PROXY_CPU and $LOAD_CPU are needed; this machine has $(nproc --all)"

# ---- 2. build ----

log "building ferrogate (release)"
(cd "$ROOT" && cargo build --release -p ferrogate >&2)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
FERROGATE=$TARGET_DIR/release/ferrogate
[[ -x $FERROGATE ]] || die "$FERROGATE was not built"

# ---- 3. servers ----

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

TAKEN_PORTS=()
free_port() {
    local port
    while true; do
        port=$((20000 + RANDOM % 40000))
        [[ " ${TAKEN_PORTS[*]} " == *" $port "* ]] && continue
        port_in_use "$port" && continue
        TAKEN_PORTS+=("$port")
        echo "$port"
        return
    done
}

wait_port() {
    local port=$1 what=$2
    for _ in $(seq 300); do
        port_in_use "$port" && return
        sleep 0.1
    done
    die "$what did not listen on 127.0.0.1:$port (logs in $TMP)"
}

UPSTREAM_PORT=$(free_port)
FERROGATE_PORT=$(free_port)
NGINX_PORT=$(free_port)

# The body: 1023 characters and a newline.
BODY=$(head -c $((BODY_SIZE - 1)) /dev/zero | tr '\0' 'x')

# Common nginx settings: foreground, everything inside $TMP, no access log.
nginx_conf() {
    local name=$1 server=$2 extra=$3 location=$4
    mkdir -p "$TMP/$name"
    local user_line=""
    [[ $(id -u) -eq 0 ]] && user_line="user root;"
    cat >"$TMP/$name/nginx.conf" <<EOF
$user_line
worker_processes 1;
daemon off;
pid $TMP/$name/nginx.pid;
error_log $TMP/$name/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/$name/body;
    proxy_temp_path $TMP/$name/proxy;
    fastcgi_temp_path $TMP/$name/fastcgi;
    uwsgi_temp_path $TMP/$name/uwsgi;
    scgi_temp_path $TMP/$name/scgi;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
$extra
    server {
        listen 127.0.0.1:$server;
        location / {
            $location
        }
    }
}
EOF
}

nginx_conf upstream "$UPSTREAM_PORT" "" "default_type text/plain; return 200 \"$BODY\n\";"
nginx_conf nginx-proxy "$NGINX_PORT" "    upstream app { server 127.0.0.1:$UPSTREAM_PORT; keepalive 32; }" \
    "proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\";"

mkdir -p "$TMP/ferrogate/routes"
cat >"$TMP/ferrogate/routes/proxy.json" <<EOF
{
  "name": "proxy",
  "handler": "ReverseProxyHandler",
  "baseURI": "http://127.0.0.1:$UPSTREAM_PORT"
}
EOF

log "starting upstream (:$UPSTREAM_PORT), ferrogate (:$FERROGATE_PORT), nginx proxy (:$NGINX_PORT)"
taskset -c "$LOAD_CPU" "$NGINX" -p "$TMP/upstream" -c "$TMP/upstream/nginx.conf" \
    >"$TMP/upstream/stdout.log" 2>&1 &
PIDS+=($!)
taskset -c "$PROXY_CPU" "$FERROGATE" run --config-dir "$TMP/ferrogate" \
    --listen "127.0.0.1:$FERROGATE_PORT" --drain-timeout 1 >"$TMP/ferrogate/stdout.log" 2>&1 &
FERROGATE_PID=$!
PIDS+=("$FERROGATE_PID")
taskset -c "$PROXY_CPU" "$NGINX" -p "$TMP/nginx-proxy" -c "$TMP/nginx-proxy/nginx.conf" \
    >"$TMP/nginx-proxy/stdout.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")

wait_port "$UPSTREAM_PORT" upstream
wait_port "$FERROGATE_PORT" ferrogate
wait_port "$NGINX_PORT" "nginx proxy"

# Each target must answer 200 with the 1 KiB body before anything is measured.
check_target() {
    local name=$1 port=$2 response
    exec 3<>"/dev/tcp/127.0.0.1/$port"
    printf 'GET /check HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
    response=$(timeout 5 cat <&3 || true)
    exec 3<&-
    [[ $response == "HTTP/1.1 200"* ]] || die "$name did not answer 200: ${response%%$'\r'*}"
    [[ $response == *"$BODY"* ]] || die "$name did not answer the 1 KiB body"
}
check_target upstream "$UPSTREAM_PORT"
check_target nginx "$NGINX_PORT"
# The gateway listens as soon as its configuration is loaded; give its route a moment anyway.
for attempt in $(seq 20); do
    (check_target ferrogate "$FERROGATE_PORT") 2>/dev/null && break
    [[ $attempt -eq 20 ]] && check_target ferrogate "$FERROGATE_PORT"
    sleep 0.25
done

# ---- 4. measurements ----

# CPU ticks (utime + stime) of a process and its direct children (nginx's workers).
cpu_ticks() {
    local total=0 pid stat fields
    for pid in "$1" $(pgrep -P "$1" || true); do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        # Fields after the command name (which may hold spaces): state is field 3, so utime
        # (14) and stime (15) are the 12th and 13th after ')'.
        read -r -a fields <<<"${stat##*) }"
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

# wrk latency text (e.g. 512.00us, 1.20ms, 1.01s) to milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n = n / 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n = n * 60000;
        else if (v ~ /s$/) n = n * 1000;
        printf "%.3f", n }'
}

declare -A RPS AVG P99 CPU ERRORS
run_wrk() {
    local name=$1 port=$2 proxy_pid=${3:-} rep=$4 out before after requests
    taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$WARMUP" "http://127.0.0.1:$port/" >/dev/null
    [[ -n $proxy_pid ]] && before=$(cpu_ticks "$proxy_pid")
    out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency \
        "http://127.0.0.1:$port/")
    [[ -n $proxy_pid ]] && after=$(cpu_ticks "$proxy_pid")
    printf '%s\n' "$out" >"$TMP/wrk-$name-$rep.txt"
    requests=$(awk '/requests in/ {print $1; exit}' <<<"$out")
    RPS[$name]+="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out") "
    AVG[$name]+="$(to_ms "$(awk '$1 == "Latency" {print $2; exit}' <<<"$out")") "
    P99[$name]+="$(to_ms "$(awk '$1 == "99%" {print $2; exit}' <<<"$out")") "
    local errors
    errors=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {
        for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) n += $i } END {print n + 0}' <<<"$out")
    ERRORS[$name]=$(( ${ERRORS[$name]:-0} + errors ))
    if [[ -n $proxy_pid ]]; then
        CPU[$name]+="$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v r="$requests" \
            'BEGIN { printf "%.2f", t / hz * 1e6 / r }') "
    fi
    log "  $name rep $rep: $requests requests, $(awk '/^Requests\/sec:/ {print $2}' <<<"$out") req/s"
}

for rep in $(seq "$REPS"); do
    log "repetition $rep/$REPS"
    run_wrk upstream "$UPSTREAM_PORT" "" "$rep"
    run_wrk ferrogate "$FERROGATE_PORT" "$FERROGATE_PID" "$rep"
    run_wrk nginx "$NGINX_PORT" "$NGINX_PID" "$rep"
done

# ---- 5. report ----

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR] = $1} END {
    if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2];
    else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

cat <<EOF

Proxy comparison: wrk -t1 -c$CONNECTIONS -d$DURATION (keep-alive), 1 KiB body, medians of $REPS interleaved runs.
Proxy pinned to CPU $PROXY_CPU; wrk and the upstream on CPU $LOAD_CPU. $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $("$FERROGATE" --version 2>/dev/null || echo ferrogate), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}').

| target | requests/s | avg latency (ms) | p99 latency (ms) | proxy CPU µs/request | errors |
| --- | ---: | ---: | ---: | ---: | ---: |
EOF
for name in upstream ferrogate nginx; do
    label=$name
    case $name in
        upstream) label="upstream direct (baseline)" ;;
        ferrogate) label="Ferrogate (release)" ;;
        nginx) label="nginx reverse proxy" ;;
    esac
    cpu="-"
    [[ -n ${CPU[$name]:-} ]] && cpu=$(median "${CPU[$name]}")
    printf '| %s | %.0f | %.3f | %.3f | %s | %s |\n' "$label" "$(median "${RPS[$name]}")" \
        "$(median "${AVG[$name]}")" "$(median "${P99[$name]}")" "$cpu" "${ERRORS[$name]}"
done
echo
echo "Raw runs (requests/s): upstream ${RPS[upstream]}| ferrogate ${RPS[ferrogate]}| nginx ${RPS[nginx]}"
