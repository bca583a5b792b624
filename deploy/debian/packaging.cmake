# packaging.cmake - the Debian package (cpack -G DEB in a build directory): the daemon and its
# tools in /usr/bin, the documented config as the conffile /etc/roda/roda-gateway.conf (with the
# journal in /var/lib/roda), a hardened systemd unit, and maintainer scripts that make the `roda`
# system user (postinst) and remove it and its state on purge (postrm). Runtime dependencies are
# computed by dpkg-shlibdeps from the libraries the binaries link.
include(GNUInstallDirs)
set(RODA_DEBIAN_DIR ${PROJECT_SOURCE_DIR}/deploy/debian)

install(TARGETS roda-gateway roda-fleet roda-audit roda-replay RUNTIME DESTINATION bin)

# The package's config: the documented one, keeping its journal in the state directory (made
# again whenever the documented one changes).
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${PROJECT_SOURCE_DIR}/deploy/roda-gateway.conf)
file(READ ${PROJECT_SOURCE_DIR}/deploy/roda-gateway.conf RODA_PACKAGE_CONFIG)
string(REGEX REPLACE "\ndirectory = +;" "\ndirectory = /var/lib/roda/journal ; not the default (package): state in /var/lib/roda;"
       RODA_PACKAGE_CONFIG "${RODA_PACKAGE_CONFIG}")
file(WRITE ${PROJECT_BINARY_DIR}/package/roda-gateway.conf "${RODA_PACKAGE_CONFIG}")
install(FILES ${PROJECT_BINARY_DIR}/package/roda-gateway.conf DESTINATION /etc/roda
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${RODA_DEBIAN_DIR}/roda-gateway.service DESTINATION /lib/systemd/system)

# Debian wants its copyright file and a compressed changelog in the doc directory.
file(WRITE ${PROJECT_BINARY_DIR}/package/copyright
     "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
     "Upstream-Name: roda\n\nFiles: *\nCopyright: 2026 the Roda authors\nLicense: Apache-2.0\n"
     " On Debian systems, the full text of the Apache License 2.0 is in\n"
     " /usr/share/common-licenses/Apache-2.0.\n")
file(WRITE ${PROJECT_BINARY_DIR}/package/changelog.Debian
     "roda-gateway (${PROJECT_VERSION}-1) unstable; urgency=medium\n\n"
     "  * Package of the Roda telemetry gateway.\n\n"
     " -- Roda maintainers <maintainers@roda-gateway.org>  Thu, 03 Dec 2026 12:00:00 +0000\n")
add_custom_target(roda-package-changelog ALL
                  COMMAND gzip -9nf -k ${PROJECT_BINARY_DIR}/package/changelog.Debian
                  BYPRODUCTS ${PROJECT_BINARY_DIR}/package/changelog.Debian.gz)
install(FILES ${PROJECT_BINARY_DIR}/package/copyright
              ${PROJECT_BINARY_DIR}/package/changelog.Debian.gz
              ${PROJECT_SOURCE_DIR}/README.md
        DESTINATION share/doc/roda-gateway)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME roda-gateway)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "telemetry gateway: MQTT/UDP sensor readings to rules and alerts")
set(CPACK_PACKAGE_DESCRIPTION "Roda takes sensor readings over MQTT and UDP into a memory-mapped\n\
journal, keeps per-sensor state, evaluates alert rules, and serves Prometheus\n\
metrics, a live alert stream and alerts for MQTT and Alertmanager.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "Roda maintainers <maintainers@roda-gateway.org>")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://roda.invalid/")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${RODA_DEBIAN_DIR}/postinst ${RODA_DEBIAN_DIR}/prerm ${RODA_DEBIAN_DIR}/postrm
    ${RODA_DEBIAN_DIR}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
