# shellcheck shell=bash
# Tools, processes and ports for tests/perf/run (sourced, never run).

log() { printf '[perf] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# ---- tools ----

# nginx lives in /usr/sbin, which is not on every user's PATH.
tool_path() {
    command -v "$1" 2>/dev/null && return
    [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1" && return
    return 1
}

# ensure_tools [haproxy] [perf] [valgrind]: installs the Debian packages of the missing
# tools; does nothing when all are there, so repeated runs cost one lookup per tool. Every
# script needs the upstream, the load generators and the process tools; HAProxy only the
# scripts that measure it, perf (with nstat) those that profile (PROFILE set asks for it
# too), and valgrind those that count instructions.
ensure_tools() {
    local -A package_of=(
        [nginx]=nginx-light [wrk]=wrk [h2load]=nghttp2-client
        [taskset]=util-linux [setsid]=util-linux [lscpu]=util-linux [pgrep]=procps
        [curl]=curl [openssl]=openssl [python3]=python3
    )
    local extra
    [[ -n ${PROFILE:-} ]] && set -- "$@" perf
    for extra in "$@"; do
        case $extra in
            haproxy) package_of[haproxy]=haproxy ;;
            perf) package_of[perf]=linux-perf && package_of[nstat]=iproute2 ;;
            valgrind) package_of[valgrind]=valgrind ;;
            *) die "ensure_tools: no such extra tool: $extra" ;;
        esac
    done
    local tool packages=()
    for tool in "${!package_of[@]}"; do
        tool_path "$tool" >/dev/null && continue
        [[ " ${packages[*]} " == *" ${package_of[$tool]} "* ]] || packages+=("${package_of[$tool]}")
    done
    [[ ${#packages[@]} -eq 0 ]] && return
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "missing ${packages[*]}, not root and no sudo"
        sudo=(sudo)
    fi
    command -v apt-get >/dev/null 2>&1 || die "missing ${packages[*]}: install them (no apt-get)"
    log "installing ${packages[*]} with apt-get"
    # Debian starts a package's service on installation (nginx on port 80, haproxy) unless
    # policy-rc.d forbids it; the harness starts its own copies and must leave no service
    # behind, so it forbids it for the duration of the installation when nothing else does.
    local policy=/usr/sbin/policy-rc.d own_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod 755 "$policy"
        own_policy=1
    fi
    local status=0
    "${sudo[@]}" apt-get update -qq || status=$?
    if [[ $status -eq 0 ]]; then
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
            --no-install-recommends "${packages[@]}" >&2 || status=$?
        if [[ $status -ne 0 && " ${packages[*]} " == *" nginx-light "* ]]; then
            # Debian 13 has no nginx-light any more.
            status=0
            DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
                --no-install-recommends "${packages[@]/nginx-light/nginx}" >&2 || status=$?
        fi
    fi
    [[ $own_policy -eq 1 ]] && "${sudo[@]}" rm -f "$policy"
    [[ $status -eq 0 ]] || die "apt-get failed to install ${packages[*]}"
    for tool in "${!package_of[@]}"; do
        tool_path "$tool" >/dev/null || die "$tool is still missing after installation"
    done
}

# ensure_inferno DIR: sets INFERNO to a directory holding inferno's inferno-collapse-perf
# and inferno-flamegraph, built into DIR with cargo the first time. Debian packages no
# flame-graph renderer, and inferno is the Rust port of Brendan Gregg's FlameGraph scripts;
# the version is pinned so that every profile's graphs are drawn the same way.
INFERNO_VERSION=0.12.8
ensure_inferno() {
    INFERNO=$1/bin
    # The binaries have no --version; cargo's record of what it installed has it.
    grep -qF "\"inferno $INFERNO_VERSION " "$1/.crates.toml" 2>/dev/null &&
        [[ -x $INFERNO/inferno-collapse-perf && -x $INFERNO/inferno-flamegraph ]] && return
    log "installing inferno $INFERNO_VERSION (flame graphs) into $1 with cargo"
    cargo install --quiet --locked --force --version "$INFERNO_VERSION" --root "$1" inferno >&2 ||
        die "cargo install inferno $INFERNO_VERSION failed (it needs the crates.io registry)"
}

# ---- builds ----

# target_dir ROOT: where cargo puts the builds of the checkout at ROOT.
target_dir() { echo "${CARGO_TARGET_DIR:-$1/target}"; }

# release_ferrogate ROOT: builds the gateway's release binary and prints its path. The
# gateway embeds the standard plugins, built for wasm32-wasip2: scripts/setup adds that
# target on a machine new to the project. (Both run in a command substitution, where set -e
# does not hold: each failure is checked.)
release_ferrogate() {
    log "building ferrogate (release; the first build takes minutes)"
    "$1/scripts/setup" >&2 || die "scripts/setup failed"
    (cd "$1" && cargo build --release --locked -p ferrogate --bin ferrogate >&2) ||
        die "the release build of ferrogate failed"
    echo "$(target_dir "$1")/release/ferrogate"
}

# release_floor ROOT: builds the load test's reference floor (tests/perf/floor, a crate of
# its own) and prints its path.
release_floor() {
    log "building the reference floor (tests/perf/floor)"
    local floor_target
    floor_target=$(target_dir "$1")/perf-floor
    (cd "$1/tests/perf/floor" && CARGO_TARGET_DIR=$floor_target cargo build --release --locked >&2) ||
        die "the release build of tests/perf/floor failed"
    echo "$floor_target/release/perf-floor"
}

# ---- processes ----

# Every server runs in a process group of its own (setsid), so stopping it also stops the
# workers it forked (nginx), even when the master died first; the group id is the pid.
STARTED_GROUPS=()

# start_pinned CPU LOGFILE COMMAND...: sets STARTED_PID.
start_pinned() {
    local cpu=$1 logfile=$2
    shift 2
    # Until it execs, the child is a copy of this shell with its traps: it drops them first,
    # and what it might still say goes to the server's log.
    (
        trap - EXIT INT TERM
        exec setsid taskset -c "$cpu" "$@"
    ) >"$logfile" 2>&1 </dev/null &
    STARTED_PID=$!
    STARTED_GROUPS+=("$STARTED_PID")
}

# Right after the start, setsid may not have made the group yet: the pid itself counts too.
# (bash reaps its children as they exit, so a stopped server does not linger as a zombie
# that kill -0 would still find.)
group_alive() { kill -0 -- "-$1" 2>/dev/null || kill -0 "$1" 2>/dev/null; }

signal_group() { kill "-$1" -- "-$2" 2>/dev/null || kill "-$1" "$2" 2>/dev/null || true; }

# group_gone_within PGID SECONDS: waits, in tenths of a second, for the group to be gone;
# fails if it still runs after SECONDS.
group_gone_within() {
    for _ in $(seq $(($2 * 10))); do
        group_alive "$1" || return 0
        sleep 0.1
    done
    ! group_alive "$1"
}

# stop_group PGID [GRACE]: SIGTERM, then SIGKILL if the group still runs after GRACE seconds
# (5). Sets STOPPED_CLEANLY to 1 when every process exited by itself, 0 when it had to be
# killed: a caller for whom the exit matters (a profiling build writes its profile as it
# exits) checks it.
STOPPED_CLEANLY=1
stop_group() {
    local pgid=$1 grace=${2:-5} kept=() g
    STOPPED_CLEANLY=0
    signal_group TERM "$pgid"
    group_gone_within "$pgid" "$grace" && STOPPED_CLEANLY=1
    if [[ $STOPPED_CLEANLY == 0 ]]; then
        signal_group KILL "$pgid"
        # kill returns once the signal is queued: the processes die when next scheduled,
        # and the orphans among them linger as zombies until init reaps them. On a loaded
        # machine both take moments, and the next server must not find them still there.
        group_gone_within "$pgid" 5 || true
    fi
    wait "$pgid" 2>/dev/null || true
    for g in "${STARTED_GROUPS[@]}"; do
        [[ $g == "$pgid" ]] || kept+=("$g")
    done
    STARTED_GROUPS=("${kept[@]}")
}

stop_all() {
    local g
    for g in "${STARTED_GROUPS[@]}"; do
        signal_group TERM "$g"
    done
    for g in "${STARTED_GROUPS[@]}"; do
        stop_group "$g"
    done
}

# Perf maps of profiled processes: they outlive their process by design, the harness's
# clean-up removes them.
PERF_MAPS=()

# with_temporary_dir NAME: sets TMP to a new private directory and, on any exit, stops every
# process started and removes TMP (kept with KEEP_TMP=1) and PERF_MAPS.
with_temporary_dir() {
    TMP=$(mktemp -d -t "$1.XXXXXX")
    TMP_OWNER=$BASHPID
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

cleanup() {
    local status=$?
    # A server signalled right after its start may still be this shell's forked child, before
    # it execs its command, and run these traps: the clean-up belongs to the shell that made
    # TMP, not to it.
    [[ $BASHPID == "$TMP_OWNER" ]] || exit "$status"
    trap - EXIT INT TERM
    stop_all
    [[ ${#PERF_MAPS[@]} -eq 0 ]] || rm -f "${PERF_MAPS[@]}"
    if [[ ${KEEP_TMP:-0} == 1 ]]; then
        log "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$status"
}

# Pids of a group: nginx's master and workers, or the one process of the others.
group_pids() { pgrep -g "$1" || true; }

# ---- ports ----

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

TAKEN_PORTS=" "
# A random port below Linux's ephemeral range (32768-60999 by default, else above it), so
# the thousands of client connections of the idle scenario cannot take a listener's port.
# free_port VAR (not $(free_port): the list of ports handed out must outlive the call).
free_port() {
    local fp_port fp_low fp_high fp_base=1024 fp_span
    read -r fp_low fp_high </proc/sys/net/ipv4/ip_local_port_range
    if ((fp_low - fp_base >= 4096)); then
        fp_span=$((fp_low - fp_base))
    else
        fp_base=$((fp_high + 1))
        fp_span=$((65536 - fp_base))
        ((fp_span >= 4096)) || { fp_base=1024 && fp_span=64000; }
    fi
    while true; do
        fp_port=$((fp_base + (RANDOM * 32768 + RANDOM) % fp_span))
        [[ $TAKEN_PORTS == *" $fp_port "* ]] && continue
        port_in_use "$fp_port" && continue
        TAKEN_PORTS+="$fp_port "
        printf -v "$1" '%s' "$fp_port"
        return
    done
}

# wait_listening PORT PGID WHAT LOG: fails early when the server died.
wait_listening() {
    local port=$1 pgid=$2 what=$3 logfile=$4 limit=${5:-300}
    for _ in $(seq "$limit"); do
        port_in_use "$port" && return
        group_alive "$pgid" || die "$what exited before listening: $(tail -5 "$logfile")"
        sleep 0.2
    done
    die "$what did not listen on 127.0.0.1:$port: $(tail -5 "$logfile")"
}
