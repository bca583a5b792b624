# The gateway's tools, outside the daemon; their binaries land next to roda-gateway.
# roda-fleet: the simulated fleet (demo, tests, benchmark).
add_executable(roda-fleet ${CMAKE_CURRENT_LIST_DIR}/roda_fleet.c)
target_link_libraries(roda-fleet PRIVATE roda_gateway_lib)

# roda-ingest-bench: readings/s into the journal vs the ceiling without Roda (BENCHMARKS.md).
add_executable(roda-ingest-bench ${CMAKE_CURRENT_LIST_DIR}/roda_ingest_bench.c)
target_link_libraries(roda-ingest-bench PRIVATE roda_gateway_lib)

# roda-audit: reads the input journal's segment files (journal.directory) again.
add_executable(roda-audit ${CMAKE_CURRENT_LIST_DIR}/roda_audit.c)
target_link_libraries(roda-audit PRIVATE roda_gateway_lib)

# roda-replay: runs a recorded input journal through a config's rules offline (and --compare).
add_executable(roda-replay ${CMAKE_CURRENT_LIST_DIR}/roda_replay.c)
target_link_libraries(roda-replay PRIVATE roda_gateway_lib)

# roda-durable-bench: replay speed and recovery time (BENCHMARKS.md).
add_executable(roda-durable-bench ${CMAKE_CURRENT_LIST_DIR}/roda_durable_bench.c)
target_link_libraries(roda-durable-bench PRIVATE roda_gateway_lib)

# roda-sparkplug-bench: Sparkplug B decode speed, metrics/s on one thread (BENCHMARKS.md).
add_executable(roda-sparkplug-bench ${CMAKE_CURRENT_LIST_DIR}/roda_sparkplug_bench.c)
target_link_libraries(roda-sparkplug-bench PRIVATE roda_gateway_lib)

# roda-window-bench: the cost of time windows per reading, rules and update (BENCHMARKS.md).
add_executable(roda-window-bench ${CMAKE_CURRENT_LIST_DIR}/roda_window_bench.c)
target_link_libraries(roda-window-bench PRIVATE roda_gateway_lib)
