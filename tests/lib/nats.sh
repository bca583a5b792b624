# nats.sh - real nats-server nodes for real-process tests (sourced): JetStream stored in $work,
# an MQTT listener on every node (devices publish fleet/<device>/readings, the subject
# fleet.<device>.readings) and the subject mapping that puts each device in one of
# $nats_partitions partitions (fleet.<partition>.<device>.readings). Needs $work, free_port
# (broker.sh) and a fail() function.

# A test that sources this is skipped (exit 77) where nats-server is missing.
command -v nats-server > /dev/null || {
    echo "SKIP: no nats-server (deploy/install-deps.sh installs it)"
    exit 77
}

# nats_configure COUNT PARTITIONS: picks ports for COUNT nodes (nats_port[i], nats_mqtt_port[i],
# nats_http_port[i] for monitoring, i = 1..COUNT) and writes $work/nats-<i>.conf; more than one node makes a cluster (routes to
# every node; JetStream needs a quorum, so streams of 3 replicas want 3 nodes).
nats_configure() {
    nats_nodes=$1 nats_partitions=$2
    local i j routes="" cluster_port=()
    for i in $(seq "$nats_nodes"); do
        nats_port[i]=$(free_port)
        nats_mqtt_port[i]=$(free_port)
        nats_http_port[i]=$(free_port)
        cluster_port[i]=$(free_port)
        routes+="${routes:+, }nats-route://127.0.0.1:${cluster_port[i]}"
    done
    for i in $(seq "$nats_nodes"); do
        {
            echo "server_name: n$i"
            echo "listen: 127.0.0.1:${nats_port[i]}"
            echo "http: 127.0.0.1:${nats_http_port[i]}"
            echo "jetstream { store_dir: \"$work/nats-$i\" }"
            echo "mqtt { listen: 127.0.0.1:${nats_mqtt_port[i]} }"
            echo "mappings { \"fleet.*.readings\": \"fleet.{{partition($nats_partitions,1)}}.{{wildcard(1)}}.readings\" }"
            [ "$nats_nodes" -gt 1 ] &&
                echo "cluster { name: roda, listen: 127.0.0.1:${cluster_port[i]}, routes: [$routes] }"
        } > "$work/nats-$i.conf"
    done
    true
}

# nats_servers: the nodes' URLs, comma-separated (for [nats] servers).
nats_servers() {
    local i out=""
    for i in $(seq "$nats_nodes"); do out+="${out:+, }nats://127.0.0.1:${nats_port[i]}"; done
    echo "$out"
}

# start_nats I: starts node I (its pid in nats_pid[I], log $work/nats-<I>.log) and waits until it
# accepts clients.
start_nats() {
    nats-server -c "$work/nats-$1.conf" > "$work/nats-$1.log" 2>&1 &
    nats_pid[$1]=$!
    bg_pids+=("${nats_pid[$1]}")
    for _ in $(seq 200); do
        (exec 3<> "/dev/tcp/127.0.0.1/${nats_port[$1]}") 2> /dev/null && return 0
        sleep 0.05
    done
    fail "nats-server $1 did not start"
}

# nats_stream_leader I STREAM: the number of the node that leads STREAM's replicas, as node I
# sees it (its monitoring endpoint); empty when it knows none.
nats_stream_leader() {
    curl -fs "http://127.0.0.1:${nats_http_port[$1]}/jsz?streams=true" |
        jq -r --arg s "$2" '.account_details[]?.stream_detail[]? | select(.name == $s) | .cluster.leader // empty' |
        sed -n 's/^n\([0-9]*\)$/\1/p'
}

# kill_nats I: SIGKILL of node I.
kill_nats() {
    kill -KILL "${nats_pid[$1]}"
    wait "${nats_pid[$1]}" 2> /dev/null || true
}

# nats_input_config SERVERS PARTITIONS [DURABLE_PREFIX]: a [nats] section for the gateway
# (roda.v1 payloads, redelivery after 2 s so that tests of a crash stay short).
nats_input_config() {
    printf '[nats]\nenabled = true\nservers = %s\npartitions = %s\ndurable_prefix = %s\nack_wait = 2s\nreplicas = %s\n' \
        "$1" "$2" "${3:-roda}" "$([ "$nats_nodes" -gt 1 ] && echo 3 || echo 1)"
}
