# relay core modules that depend on each other link relay_core.
twist_unit(test_registry SOURCES test_registry.c LIBS relay_core)
twist_unit(test_ports SOURCES test_ports.c LIBS relay_core)
twist_unit(test_flowconv SOURCES test_flowconv.c LIBS relay_core)
# The TURN core through a fake client transport (tests/relay/harness.c).
add_library(relay_harness STATIC ${CMAKE_CURRENT_LIST_DIR}/harness.c)
target_link_libraries(relay_harness PUBLIC relay_core)
twist_unit(test_turn SOURCES test_turn.c LIBS relay_harness)
# Binding compatibility: CHANGE-REQUEST, RFC 5780 and classic RFC 3489.
twist_unit(test_binding SOURCES test_binding.c LIBS relay_harness)
# ICE checks with short-term credentials (relay/turn_ice.c).
twist_unit(test_ice_check SOURCES test_ice_check.c LIBS relay_harness)
# relay/stream.c and relay/connlimit.c through the same fake transport.
twist_unit(test_stream SOURCES test_stream.c LIBS relay_harness)
# RFC 6062 TCP relay allocations through the same fake transport.
twist_unit(test_tcp_relay SOURCES test_tcp_relay.c LIBS relay_harness)
# Translator mappings as flow tuples, and the import check's rows for them.
twist_unit(test_trt_tuple SOURCES test_trt_tuple.c LIBS relay_core)
