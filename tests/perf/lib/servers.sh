# shellcheck shell=bash
# Configurations and start-up of the upstream and of the three proxies under test, for
# tests/perf/run (sourced). Each proxy gets the same work in each variant:
#   proxy      forward everything to the upstream, adding X-Forwarded-For/-Proto/-Host (what
#              Ferrogate's ReverseProxyHandler adds), over pooled keep-alive upstream
#              connections; HTTP/1.1 on one port, h2c (prior knowledge) on a second, HTTPS
#              (TLS 1.3 only, HTTP/1.1) on a third
#   filter1    proxy, plus one response header added (HeaderFilter / add_header /
#              http-response add-header)
#   filter10   proxy, plus ten response headers added by ten filters
#   called1    Ferrogate only: filter1 with the header's value an expression (${'1'}), so
#              that the HeaderFilter plugin is called on every request; with a literal
#              value it declares its edit at load and the gateway makes it with no call
#   twin       Ferrogate only: proxy again, a second instance, which the filters scenario
#              measures like a filter route: beside the first instance it should add
#              nothing, and what it shows is the resolution of that measurement
#   routes-few routes-many
#              ROUTES_FEW or ROUTES_MANY routes each testing the path for equality, the
#              request matching the last one
# Globals used: TMP, UPSTREAM_PORT, PROXY_CPU, LOAD_CPU, NGINX, HAPROXY, FERROGATE, CERT, KEY,
# CERT_AND_KEY, NOFILE, ROUTES_FEW, ROUTES_MANY, BODY_SIZE.

# Instance id ("PROXY-VARIANT") to its process group and ports.
declare -A INST_PGID INST_H1 INST_H2 INST_TLS INST_LOG

# The path a scenario requests: the last route of the routes variants, / otherwise.
route_count() {
    case $1 in
        routes-few) echo "$ROUTES_FEW" ;;
        routes-many) echo "$ROUTES_MANY" ;;
        *) echo 0 ;;
    esac
}
route_path() { printf '/p%05d' "$(($1 - 1))"; }
request_path() {
    local routes
    routes=$(route_count "$1")
    if [[ $routes -gt 0 ]]; then route_path "$routes"; else echo /; fi
}
filter_count() {
    case $1 in
        filter1 | called1) echo 1 ;;
        filter10) echo 10 ;;
        *) echo 0 ;;
    esac
}

make_certificate() {
    # ECDSA P-256: the handshake cost does not matter (connections are kept alive), and the
    # three proxies load the same files.
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$KEY" -out "$CERT" -days 7 -subj /CN=localhost \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
    cat "$CERT" "$KEY" >"$CERT_AND_KEY"
}

# ---- nginx ----

# nginx_conf DIR HTTP_BLOCK: a foreground single-worker nginx keeping everything in DIR.
nginx_conf() {
    local dir=$1 http=$2 user_line=""
    # As root nginx would run its worker as nobody, who cannot enter the private temporary
    # directory.
    [[ $(id -u) -eq 0 ]] && user_line="user root;"
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<EOF
$user_line
worker_processes 1;
worker_rlimit_nofile $NOFILE;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections $((NOFILE - 100)); }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    # Nothing may close a connection during a run (the idle scenario holds them for a while;
    # nginx's default closes keep-alive connections after 1,000 requests, HTTP/2 ones too).
    keepalive_timeout 3600s;
    keepalive_requests 100000000;
$http
}
EOF
}

start_upstream() {
    local dir=$TMP/upstream body
    free_port UPSTREAM_PORT
    body=$(head -c $((BODY_SIZE - 1)) /dev/zero | tr '\0' 'x')
    nginx_conf "$dir" "    server {
        listen 127.0.0.1:$UPSTREAM_PORT;
        location / { default_type text/plain; return 200 \"$body\n\"; }
    }"
    start_pinned "$LOAD_CPU" "$dir/stdout.log" "$NGINX" -p "$dir" -c "$dir/nginx.conf"
    UPSTREAM_PGID=$STARTED_PID
    wait_listening "$UPSTREAM_PORT" "$UPSTREAM_PGID" "upstream nginx" "$dir/error.log"
    INST_PGID[upstream-direct]=""
    INST_H1[upstream-direct]=$UPSTREAM_PORT
    INST_LOG[upstream-direct]=$dir/error.log
}

# nginx_http_block VARIANT DIR H1 H2 TLS: the proxy's upstream and server blocks; the routes
# of the routes variants go to DIR/routes.conf.
nginx_http_block() {
    local variant=$1 dir=$2 h1=$3 h2=$4 tls=$5 i filters="" routes locations
    for ((i = 1; i <= $(filter_count "$variant"); i++)); do
        filters+="add_header X-Perf-$i $i; "
    done
    routes=$(route_count "$variant")
    if [[ $routes -gt 0 ]]; then
        # Exact-match locations: nginx looks them up in a tree, not in order.
        for ((i = 0; i < routes; i++)); do
            printf 'location = /p%05d { proxy_pass http://app; }\n' "$i"
        done >"$dir/routes.conf"
        locations="        include $dir/routes.conf;
        location / { return 404; }"
    else
        locations="        location / { proxy_pass http://app; $filters}"
    fi
    cat <<EOF
    upstream app {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 32;
        keepalive_requests 100000000;
        keepalive_timeout 3600s;
    }
    server {
        listen 127.0.0.1:$h1;
        listen 127.0.0.1:$h2 http2;
        listen 127.0.0.1:$tls ssl;
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.3;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto \$scheme;
        proxy_set_header X-Forwarded-Host \$http_host;
$locations
    }
EOF
}

start_nginx() {
    local id=$1 variant=$2 dir=$3 h1=0 h2=0 tls=0
    free_port h1
    free_port h2
    free_port tls
    mkdir -p "$dir"
    nginx_conf "$dir" "$(nginx_http_block "$variant" "$dir" "$h1" "$h2" "$tls")"
    start_pinned "$PROXY_CPU" "$dir/stdout.log" "$NGINX" -p "$dir" -c "$dir/nginx.conf"
    register_instance "$id" "$STARTED_PID" "$h1" "$h2" "$tls" "$dir/error.log"
}

# ---- HAProxy ----

start_haproxy() {
    local id=$1 variant=$2 dir=$3 h1=0 h2=0 tls=0 i routes maxconn=4096
    [[ $dir == */idle/* ]] && maxconn=$((IDLE_CONNECTIONS + 500))
    free_port h1
    free_port h2
    free_port tls
    mkdir -p "$dir"
    routes=$(route_count "$variant")
    {
        cat <<EOF
global
    nbthread 1
    maxconn $maxconn
    # In the idle scenario maxconn may exceed what the open files limit allows at two
    # descriptors per connection, HAProxy's reckoning, while idle client connections take one
    # each: HAProxy then logs an alert, and would refuse to start without the "no".
    no strict-limits
    # no log: like the others, nothing is written per request
defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 3600s
    timeout server 3600s
    timeout http-keep-alive 3600s
frontend proxy
    bind 127.0.0.1:$h1
    bind 127.0.0.1:$h2 proto h2
    bind 127.0.0.1:$tls ssl crt $CERT_AND_KEY ssl-min-ver TLSv1.3
    option forwardfor
    http-request set-header X-Forwarded-Proto https if { ssl_fc }
    http-request set-header X-Forwarded-Proto http if !{ ssl_fc }
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
EOF
        for ((i = 1; i <= $(filter_count "$variant"); i++)); do
            echo "    http-response add-header X-Perf-$i $i"
        done
        if [[ $routes -gt 0 ]]; then
            # use_backend rules are tried in order: the last one matches.
            for ((i = 0; i < routes; i++)); do
                printf '    use_backend app if { path /p%05d }\n' "$i"
            done
            echo "    default_backend nomatch"
        else
            echo "    default_backend app"
        fi
        cat <<EOF
backend app
    http-reuse always
    server upstream 127.0.0.1:$UPSTREAM_PORT
backend nomatch
    http-request deny deny_status 404
EOF
    } >"$dir/haproxy.cfg"
    start_pinned "$PROXY_CPU" "$dir/stderr.log" "$HAPROXY" -db -f "$dir/haproxy.cfg"
    register_instance "$id" "$STARTED_PID" "$h1" "$h2" "$tls" "$dir/stderr.log"
}

# ---- the reference floors ----

# tests/perf/floor: the least a proxy does per request, on tokio (floor-proxy) or on io_uring
# (floor-uring); HTTP/1.1 only, so their h2 and TLS ports stay 0, and they run only in the
# plain scenario.
start_floor() {
    local id=$1 variant=$2 dir=$3 h1=0 binary=$FLOOR
    [[ $variant == uring ]] && binary=$FLOOR_URING
    free_port h1
    mkdir -p "$dir"
    start_pinned "$PROXY_CPU" "$dir/stderr.log" "$binary" "127.0.0.1:$h1" "127.0.0.1:$UPSTREAM_PORT"
    register_instance "$id" "$STARTED_PID" "$h1" 0 0 "$dir/stderr.log"
}

# ---- Ferrogate ----

start_ferrogate() {
    local id=$1 variant=$2 dir=$3 h1=0 h2=0 tls=0 i filters="" value routes handler name
    free_port h1
    free_port h2
    free_port tls
    mkdir -p "$dir/routes" "$dir/tls"
    cp "$CERT" "$dir/tls/cert.pem"
    cp "$KEY" "$dir/tls/key.pem"
    # One ReverseProxyHandler (one connection pool) shared by every route; the router loads
    # once, so no rescan of the route files runs during a measurement.
    cat >"$dir/config.json" <<EOF
{
  "handler": {"name": "_router", "type": "Router", "config": {"scanInterval": "disabled"}},
  "heap": [
    {"name": "Upstream", "type": "ReverseProxyHandler", "baseURI": "http://127.0.0.1:$UPSTREAM_PORT"}
  ]
}
EOF
    # The plain listener speaks HTTP/1.1 and h2c both; a second one serves h2c so that each
    # proxy has the same three ports.
    cat >"$dir/admin.json" <<EOF
{
  "connectors": [
    {"host": "127.0.0.1", "port": $h1},
    {"host": "127.0.0.1", "port": $h2},
    {"host": "127.0.0.1", "port": $tls, "tls": {"type": "ServerTlsOptions", "config": {
      "certificate": "tls/cert.pem", "privateKey": "tls/key.pem",
      "sslEnabledProtocols": ["TLSv1.3"]}}}
  ]
}
EOF
    for ((i = 1; i <= $(filter_count "$variant"); i++)); do
        [[ -n $filters ]] && filters+=","
        value=$i
        [[ $variant == called* ]] && value="\${'$i'}"
        filters+="
        {\"type\": \"HeaderFilter\", \"config\": {\"messageType\": \"RESPONSE\", \"add\": {\"X-Perf-$i\": [\"$value\"]}}}"
    done
    routes=$(route_count "$variant")
    if [[ $routes -gt 0 ]]; then
        # Names order routes (route-00000 first), so the request for the last path is tested
        # against every condition.
        for ((i = 0; i < routes; i++)); do
            printf -v name 'route-%05d' "$i"
            # shellcheck disable=SC2016 # ${...} is Ferrogate's expression, not the shell's
            printf '{"name": "%s", "condition": "${request.uri.path == '"'"'/p%05d'"'"'}", "handler": "Upstream"}\n' \
                "$name" "$i" >"$dir/routes/$name.json"
        done
    else
        handler='"Upstream"'
        [[ -n $filters ]] && handler="{\"type\": \"Chain\", \"config\": {\"filters\": [$filters
      ], \"handler\": \"Upstream\"}}"
        printf '{"name": "proxy", "handler": %s}\n' "$handler" >"$dir/routes/proxy.json"
    fi
    local env=()
    # Profiled, Ferrogate names its plugins' compiled code for perf (/tmp/perf-PID.map);
    # naming costs only at load, never per request.
    [[ -n ${PROFILE:-} ]] && env=(env FERROGATE_PERF_MAP=1)
    start_pinned "$PROXY_CPU" "$dir/stdout.log" \
        "${env[@]}" "$FERROGATE" run --config-dir "$dir" --drain-timeout 1
    [[ -n ${PROFILE:-} ]] && PERF_MAPS+=("/tmp/perf-$STARTED_PID.map")
    register_instance "$id" "$STARTED_PID" "$h1" "$h2" "$tls" "$dir/stdout.log"
}

register_instance() {
    local id=$1 pgid=$2 h1=$3 h2=$4 tls=$5 logfile=$6
    INST_PGID[$id]=$pgid
    INST_H1[$id]=$h1
    INST_H2[$id]=$h2
    INST_TLS[$id]=$tls
    INST_LOG[$id]=$logfile
}

# start_instance ID SCENARIO_DIR: ID is PROXY-VARIANT.
start_instance() {
    local id=$1 dir=$2/$1 proxy=${1%%-*} variant=${1#*-}
    case $proxy in
        upstream) return ;;
        ferrogate) start_ferrogate "$id" "$variant" "$dir" ;;
        floor) start_floor "$id" "$variant" "$dir" ;;
        nginx) start_nginx "$id" "$variant" "$dir" ;;
        haproxy) start_haproxy "$id" "$variant" "$dir" ;;
        *) die "unknown proxy $proxy" ;;
    esac
}

wait_instance() {
    local id=$1 port
    [[ -z ${INST_PGID[$id]} ]] && return
    # Ten thousand route files take Ferrogate a while to load before it listens, and under
    # valgrind (tests/perf/instructions) a build new to the compilation cache compiles its
    # plugins for minutes: START_TIMEOUT (seconds) allows for more.
    for port in "${INST_H1[$id]}" "${INST_H2[$id]}" "${INST_TLS[$id]}"; do
        [[ $port == 0 ]] && continue
        wait_listening "$port" "${INST_PGID[$id]}" "$id" "${INST_LOG[$id]}" $((${START_TIMEOUT:-300} * 5))
    done
}

# stop_instance ID [GRACE]: stop_group's GRACE and STOPPED_CLEANLY.
stop_instance() {
    local id=$1
    if [[ -n ${INST_PGID[$id]:-} ]]; then
        stop_group "${INST_PGID[$id]}" "${2:-5}"
    fi
    INST_PGID[$id]=""
}
