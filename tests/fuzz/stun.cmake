# fuzz_stun: STUN (also classic RFC 3489), ChannelData and TCP framing
# (proto/). Seeds: the RFC 5769 and RFC 8489 B.1 vectors, a TURN Allocate and
# error response that carry every typed attribute, a ChannelData frame, and
# CHANGE-REQUEST, RFC 5780 and classic messages (gen_relay_seeds.py).
#
# libFuzzer sees only code built with coverage instrumentation, and
# twist_proto is built without it; so this target links an instrumented copy
# of the same sources (read from the target, so the list cannot drift).
if(NOT TARGET twist_proto_fuzz)
	twist_fuzz_sources(fuzz_proto_srcs twist_proto)
	add_library(twist_proto_fuzz STATIC ${fuzz_proto_srcs})
	target_compile_options(twist_proto_fuzz PRIVATE -fsanitize=fuzzer-no-link)
	target_link_libraries(twist_proto_fuzz PUBLIC OpenSSL::Crypto ZLIB::ZLIB)
endif()
twist_fuzz(fuzz_stun SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_stun.c LIBS twist_proto_fuzz)
