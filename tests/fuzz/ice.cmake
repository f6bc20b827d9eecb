# fuzz_ice: what the ICE agent reads (client/ice): candidate lines from the
# signalling peer, datagrams on a host socket and from the TURN server, on
# an instrumented copy of ice_core and twist_proto (twist_proto_fuzz, made
# by stun.cmake). Seeds: tests/fuzz/corpus/fuzz_ice (gen_ice_seeds.py).
twist_fuzz_sources(fuzz_ice_srcs ice_core)
twist_fuzz(fuzz_ice SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_ice.c ${fuzz_ice_srcs}
	LIBS twist_proto_fuzz twist_common)
