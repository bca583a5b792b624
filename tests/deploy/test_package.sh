#!/usr/bin/env bash
# test_package.sh - the Debian package: cpack builds it from the build directory; its control data
# declares the runtime libraries (dpkg-shlibdeps) and the conffile; it holds the daemon, its
# tools, the config and a hardened systemd unit; lintian finds no error; systemd-analyze verify
# accepts the unit; the packaged binary accepts the packaged config; the maintainer scripts parse.
# Installing it (dpkg -i, the roda user, purge) needs a throwaway system: not done here.
# Usage: test_package.sh BUILD_DIR
set -euo pipefail
build=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

cpack -G DEB -B "$work" --config "$build/CPackConfig.cmake" > "$work/cpack.log" 2>&1 ||
    fail "cpack: $(tail -5 "$work/cpack.log")"
deb=$(ls "$work"/roda-gateway_*_*.deb)
dpkg-deb -I "$deb" > "$work/info.txt"
depends=$(sed -n 's/^ Depends: //p' "$work/info.txt")
for lib in adduser libc6 libmosquitto1 libmicrohttpd12 libinih1 libxxhash0 libcurl4 libgnutls30 libcrypt1; do
    grep -q "\\b$lib\\b" <<< "$depends" || fail "Depends lacks $lib: $depends"
done
dpkg-deb -e "$deb" "$work/control"
[ "$(cat "$work/control/conffiles")" = /etc/roda/roda-gateway.conf ] || fail "conffiles"
for script in postinst prerm postrm; do
    sh -n "$work/control/$script" || fail "$script does not parse"
done
grep -q 'adduser --system --group' "$work/control/postinst" || fail "postinst makes no user"
dpkg-deb -c "$deb" > "$work/contents.txt"
for path in usr/bin/roda-gateway usr/bin/roda-fleet usr/bin/roda-audit usr/bin/roda-replay \
    etc/roda/roda-gateway.conf lib/systemd/system/roda-gateway.service \
    usr/share/doc/roda-gateway/copyright usr/share/doc/roda-gateway/changelog.Debian.gz; do
    grep -q " \\./$path\$" "$work/contents.txt" || fail "the package lacks /$path"
done

if command -v lintian > /dev/null; then
    lintian --fail-on error "$deb" > "$work/lintian.txt" 2>&1 || fail "lintian: $(grep '^E:' "$work/lintian.txt")"
else
    fail "lintian is not installed (deploy/install-deps.sh installs it)"
fi

root="$work/root"
dpkg-deb -x "$deb" "$root"
unit="$root/lib/systemd/system/roda-gateway.service"
for setting in NoNewPrivileges=yes ProtectSystem=strict ReadWritePaths=/var/lib/roda PrivateTmp=yes \
    Restart=on-failure 'ExecReload=/bin/kill -HUP $MAINPID' User=roda; do
    grep -qxF "$setting" "$unit" || fail "unit lacks $setting"
done
# verify checks that ExecStart exists: point it at the extracted binary.
sed "s|/usr/bin/roda-gateway|$root/usr/bin/roda-gateway|g" "$unit" > "$work/roda-gateway.service"
systemd-analyze verify "$work/roda-gateway.service" > "$work/verify.txt" 2>&1 ||
    fail "systemd-analyze verify: $(cat "$work/verify.txt")"
"$root/usr/bin/roda-gateway" -c "$root/etc/roda/roda-gateway.conf" --check-config > "$work/check.txt" ||
    fail "the packaged config does not check"
grep -q '^directory = /var/lib/roda/journal' "$work/check.txt" || fail "state is not in /var/lib/roda"
echo "test_package: ok ($(basename "$deb"), $(stat -c %s "$deb") bytes)"
