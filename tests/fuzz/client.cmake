# fuzz_client: what twist-client reads from the server and from its TUN
# (client/tc_stun.c, tc_pkt.c), on instrumented copies of client_pkt and
# twist_proto. Seeds: tests/fuzz/corpus/fuzz_client (gen_client_seeds.py).
if(NOT TARGET twist_proto_fuzz)
	twist_fuzz_sources(fuzz_proto_srcs twist_proto)
	add_library(twist_proto_fuzz STATIC ${fuzz_proto_srcs})
	target_compile_options(twist_proto_fuzz PRIVATE -fsanitize=fuzzer-no-link)
	target_link_libraries(twist_proto_fuzz PUBLIC OpenSSL::Crypto ZLIB::ZLIB)
endif()
twist_fuzz_sources(fuzz_client_srcs client_pkt)
twist_fuzz(fuzz_client SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_client.c ${fuzz_client_srcs}
	LIBS twist_proto_fuzz)
