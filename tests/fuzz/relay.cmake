# fuzz_relay: the relay core (relay_core's sources, instrumented) behind a
# fake client transport, fed message sequences; see fuzz_relay.c for the
# input format. Seeds: tests/fuzz/corpus/fuzz_relay, written by
# tests/fuzz/gen_relay_seeds.py (an Allocate, permissions, channels, data,
# refreshes, on both connection kinds).
twist_fuzz_sources(fuzz_relay_srcs relay_core)
twist_fuzz(fuzz_relay SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_relay.c
	${CMAKE_SOURCE_DIR}/tests/relay/harness.c ${fuzz_relay_srcs}
	LIBS relay_config relay_auth relay_policy relay_ratelimit relay_guard twist_flow twist_proto
	PkgConfig::LIBEVENT PkgConfig::NANOMSG Threads::Threads)
