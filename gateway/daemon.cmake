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

# roda-gateway: the daemon (pipeline, alert outputs, main).
add_library(roda_gateway_lib STATIC
  ${CMAKE_CURRENT_LIST_DIR}/roda_alert_out.c
  ${CMAKE_CURRENT_LIST_DIR}/roda_pipeline.c
  ${CMAKE_CURRENT_LIST_DIR}/roda_sensor_index.c)
target_include_directories(roda_gateway_lib PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(roda_gateway_lib PUBLIC roda_daemon roda_ingest)
add_executable(roda-gateway ${CMAKE_CURRENT_LIST_DIR}/roda_gateway.c)
target_link_libraries(roda-gateway PRIVATE roda_gateway_lib)
target_compile_definitions(roda-gateway PRIVATE RODA_VERSION="${PROJECT_VERSION}")

# roda-audit: reads the input journal's segment files (journal.directory) again.
add_executable(roda-audit ${CMAKE_CURRENT_LIST_DIR}/roda_audit.c)
target_link_libraries(roda-audit PRIVATE roda)
target_include_directories(roda-audit PRIVATE ${CMAKE_CURRENT_LIST_DIR})
