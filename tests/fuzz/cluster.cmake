# fuzz_cluster: sibling load reports (proto/cluster.c). Seeds: a plain
# report, one with the most recent-client hashes and the longest name, and
# one signed with another key, each with a mode byte in front (0: as sent,
# 1: re-signed by the target); made with Python's hmac, as
# docs/cluster-protocol.md lays the fields out.
if(NOT TARGET twist_proto_fuzz)
	twist_fuzz_sources(fuzz_proto_srcs twist_proto)
	add_library(twist_proto_fuzz STATIC ${fuzz_proto_srcs})
	target_compile_options(twist_proto_fuzz PRIVATE -fsanitize=fuzzer-no-link)
	target_link_libraries(twist_proto_fuzz PUBLIC OpenSSL::Crypto ZLIB::ZLIB)
endif()
twist_fuzz(fuzz_cluster SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_cluster.c LIBS twist_proto_fuzz)
