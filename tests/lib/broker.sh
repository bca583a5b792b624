# broker.sh - a real mosquitto broker for real-process tests (sourced). Needs $work (a scratch
# directory) and a fail() function from the sourcing script.
#
# The broker must never drop silently: max_queued_messages is raised far above what a test queues
# (mosquitto 2.0's default of 1000 drops QoS 1 messages for a slow subscriber), inflight is
# unbounded, set_tcp_nodelay keeps QoS 0 latency low, and with persistence the queue is saved
# after every change (autosave_on_changes, as deploy/mosquitto.conf says why).

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# broker_config PERSISTENCE: picks $broker_port and writes $work/mosquitto.conf. PERSISTENCE true
# keeps queued QoS 1 messages across broker restarts (stored in $work).
broker_config() {
    broker_port=$(free_port)
    cat > "$work/mosquitto.conf" << CONF
user $(id -un)
listener $broker_port 127.0.0.1
allow_anonymous true
persistence $1
persistence_location $work/
autosave_interval 1
autosave_on_changes true
max_queued_messages 1000000
max_inflight_messages 0
set_tcp_nodelay true
log_dest file $work/mosquitto.log
CONF
}

# start_broker: starts mosquitto with $work/mosquitto.conf and waits until it accepts connections.
start_broker() {
    mosquitto -c "$work/mosquitto.conf" &
    broker_pid=$!
    for _ in $(seq 200); do
        (exec 3<> "/dev/tcp/127.0.0.1/$broker_port") 2> /dev/null && return 0
        sleep 0.05
    done
    fail "broker did not start"
}

stop_broker() {
    kill "$broker_pid"
    wait "$broker_pid" || true
    broker_pid=""
}
