# fuzz_relay: the relay core (relay_core's sources, instrumented) behind a
# fake client transport, fed message sequences; see fuzz_relay.c for the
# input format. Seeds: tests/fuzz/corpus/fuzz_relay, written by
# tests/fuzz/gen_relay_seeds.py (an Allocate, permissions, channels, data,
# refreshes, on both connection kinds). The libraries are relay_core's own
# (read from the target, so the list cannot drift).
twist_fuzz_sources(fuzz_relay_srcs relay_core)
get_target_property(fuzz_relay_libs relay_core LINK_LIBRARIES)
twist_fuzz(fuzz_relay SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_relay.c
	${CMAKE_SOURCE_DIR}/tests/relay/harness.c ${fuzz_relay_srcs}
	LIBS ${fuzz_relay_libs})
# relay/fastpath.c includes the BPF skeleton that relay/ generates in its
# build directory.
target_include_directories(fuzz_relay PRIVATE ${CMAKE_BINARY_DIR}/relay)
add_dependencies(fuzz_relay fastpath_skel)
