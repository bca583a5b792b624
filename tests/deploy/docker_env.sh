# docker_env.sh - a Docker engine and offline base images for the image tests (sourced; needs
# bash). Debian's docker.io (deploy/install-deps.sh, tools) provides dockerd, which runs here with
# its default storage driver; the Dockerfile's FROM images are made offline from the machine's
# own apt source.
#   docker_env_up     starts dockerd when no engine answers (its log in $docker_env_dir); returns
#                     non-zero when none can run. Sets docker_env_pid when it started one.
#   docker_env_down   stops the dockerd docker_env_up started (nothing else).
#   docker_env_base   debian:12 and debian:12-slim (the Dockerfile's FROM tags), made once with
#                     debootstrap --variant=minbase bookworm from the mirror in the machine's apt
#                     sources (tests/deploy/apt_sources.py), with the official images' apt
#                     settings and no apt lists, caches or docs; skipped when both tags exist.
# The client is Debian's /usr/bin/docker when installed (the engine's own version), and builds use
# the classic builder (DOCKER_BUILDKIT=0), which docker.io's engine always has.
docker_env_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
docker_env_pid=""
docker_env_dir=""
export DOCKER_BUILDKIT=0
if [ -x /usr/bin/docker ]; then
    docker() { /usr/bin/docker "$@"; }
fi

docker_env_up() {
    docker info > /dev/null 2>&1 && return 0
    if ! command -v dockerd > /dev/null; then
        echo "docker_env: no dockerd (deploy/install-deps.sh installs docker.io)" >&2
        return 1
    fi
    docker_env_dir=$(mktemp -d /tmp/roda-dockerd.XXXXXX)
    dockerd > "$docker_env_dir/dockerd.log" 2>&1 < /dev/null &
    docker_env_pid=$!
    for _ in $(seq 120); do
        docker info > /dev/null 2>&1 && return 0
        kill -0 "$docker_env_pid" 2> /dev/null || break
        sleep 0.5
    done
    echo "docker_env: dockerd did not start; its log:" >&2
    tail -n 20 "$docker_env_dir/dockerd.log" >&2
    docker_env_down
    return 1
}

docker_env_down() {
    [ -n "$docker_env_pid" ] || return 0
    kill -TERM "$docker_env_pid" 2> /dev/null || true
    for _ in $(seq 60); do
        kill -0 "$docker_env_pid" 2> /dev/null || break
        sleep 0.5
    done
    kill -KILL "$docker_env_pid" 2> /dev/null || true
    wait "$docker_env_pid" 2> /dev/null || true
    docker_env_pid=""
    rm -rf "$docker_env_dir"
}

# The official images' apt and dpkg settings (debuerreotype's): no package caches, compressed
# lists, no translations, aggressive autoremove; the slim variant's excluded documentation.
docker_env_settings() {
    local root=$1
    cat > "$root/etc/apt/apt.conf.d/docker-clean" << 'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
    echo 'Acquire::GzipIndexes "true";' > "$root/etc/apt/apt.conf.d/docker-gzip-indexes"
    echo 'Acquire::Languages "none";' > "$root/etc/apt/apt.conf.d/docker-no-languages"
    echo 'Apt::AutoRemove::SuggestsImportant "false";' > "$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
    cat > "$root/etc/dpkg/dpkg.cfg.d/docker" << 'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CONF
}

docker_env_base() {
    if docker image inspect debian:12 debian:12-slim > /dev/null 2>&1; then
        echo "docker_env: base images debian:12, debian:12-slim cached"
        return 0
    fi
    local mirror root start=$SECONDS
    mirror=$(python3 "$docker_env_here/apt_sources.py" mirror) || return 1
    root=$(mktemp -d /tmp/roda-rootfs.XXXXXX)
    if ! debootstrap --variant=minbase bookworm "$root" "$mirror" > "$root.log" 2>&1; then
        tail -n 20 "$root.log" >&2
        rm -rf "$root" "$root.log"
        return 1
    fi
    docker_env_settings "$root"
    # apt inside the image reaches the same mirror, with the machine's settings for it (e.g. no
    # Valid-Until check on a snapshot mirror, a proxy).
    python3 "$docker_env_here/apt_sources.py" deb822 > "$root/etc/apt/sources.list.d/debian.sources"
    rm -f "$root/etc/apt/sources.list"
    local conf
    for conf in $(grep -lE '^[[:space:]]*Acquire::(Check-Valid-Until|Check-Date|https?::Proxy)' \
        /etc/apt/apt.conf /etc/apt/apt.conf.d/* 2> /dev/null); do
        cp "$conf" "$root/etc/apt/apt.conf.d/"
    done
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
        "$root"/var/log/*.log "$root"/usr/share/man/* "$root"/usr/share/info/*
    find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
    tar -C "$root" -c . | docker import --change 'CMD ["bash"]' - debian:12 > /dev/null &&
        docker tag debian:12 debian:12-slim
    local rc=$?
    rm -rf "$root" "$root.log"
    echo "docker_env: base images made in $((SECONDS - start)) s (debootstrap from $mirror)"
    return $rc
}
