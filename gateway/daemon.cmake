# The daemon part of the gateway: config (libinih), logging, per-sensor summary, rules, the
# Prometheus writer, JSON and the HTTP server (libmicrohttpd), as the static library roda_daemon.
pkg_check_modules(INIH REQUIRED IMPORTED_TARGET inih)
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)

add_library(roda_daemon STATIC
  ${CMAKE_CURRENT_LIST_DIR}/roda_config.c
  ${CMAKE_CURRENT_LIST_DIR}/roda_http.c
  ${CMAKE_CURRENT_LIST_DIR}/roda_json.c
  ${CMAKE_CURRENT_LIST_DIR}/roda_log.c
  ${CMAKE_CURRENT_LIST_DIR}/roda_metrics.c
  ${CMAKE_CURRENT_LIST_DIR}/roda_rules.c
  ${CMAKE_CURRENT_LIST_DIR}/roda_summary.c)
target_include_directories(roda_daemon PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(roda_daemon PUBLIC roda PkgConfig::INIH PkgConfig::MHD Threads::Threads m)
# The version shown by roda_build_info on /metrics.
target_compile_definitions(roda_daemon PRIVATE RODA_VERSION="${PROJECT_VERSION}")
