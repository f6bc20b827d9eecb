# fuzz_mice_option and fuzz_mice_demux: the MIP-ICE option, Binding
# Update/Acknowledgement framing and the STUN/MIP demux (proto/mice*.c,
# docs/mice.md). They link twist_proto_fuzz (stun.cmake). Seeds:
# tests/fuzz/gen_mice_seeds.py, with the integration test's Python encoder.
twist_require_files(gen_mice_seeds.py)
twist_fuzz(fuzz_mice_option SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_mice_option.c
	LIBS twist_proto_fuzz)
twist_fuzz(fuzz_mice_demux SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_mice_demux.c
	LIBS twist_proto_fuzz)
