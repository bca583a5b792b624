# The ingest part: wire decode/encode, device registry, MQTT and UDP inputs (library
# `roda_ingest`), the roda-fleet load tool and the ingest benchmark.
pkg_check_modules(MOSQUITTO REQUIRED IMPORTED_TARGET libmosquitto)

add_library(roda_ingest STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/roda_decode.c
  ${CMAKE_CURRENT_SOURCE_DIR}/roda_devices.c
  ${CMAKE_CURRENT_SOURCE_DIR}/roda_encode.c
  ${CMAKE_CURRENT_SOURCE_DIR}/roda_ingest.c
  ${CMAKE_CURRENT_SOURCE_DIR}/roda_mqtt.c
  ${CMAKE_CURRENT_SOURCE_DIR}/roda_udp.c)
target_include_directories(roda_ingest PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(roda_ingest PUBLIC roda roda_proto PkgConfig::MOSQUITTO m)

# roda-fleet: the load tool (demo, tests, benchmark).
add_executable(roda-fleet ${CMAKE_CURRENT_SOURCE_DIR}/roda_fleet.c)
target_link_libraries(roda-fleet PRIVATE roda_ingest)

# roda-ingest-bench: readings/s into the journal vs the ceiling without Roda (BENCHMARKS.md).
add_executable(roda-ingest-bench ${CMAKE_CURRENT_SOURCE_DIR}/roda_ingest_bench.c)
target_link_libraries(roda-ingest-bench PRIVATE roda_ingest)
