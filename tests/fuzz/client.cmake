# fuzz_client: what twist-client reads from the server and from its TUN
# (client/tc_stun.c, tc_pkt.c), on instrumented copies of client_pkt and of
# twist_proto (twist_proto_fuzz, made by stun.cmake, which twist_fragments
# includes first). Seeds: tests/fuzz/corpus/fuzz_client (gen_client_seeds.py).
twist_fuzz_sources(fuzz_client_srcs client_pkt)
twist_fuzz(fuzz_client SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_client.c ${fuzz_client_srcs}
	LIBS twist_proto_fuzz)
