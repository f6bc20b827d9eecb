# fuzz_ws_handshake and fuzz_ws_frame: the WebSocket handshake and framing
# (proto/ws_*.c), each fed whole and in fuzzer-chosen pieces that must
# agree. Seeds: the unit tests' requests and frames, the RFC 6455 examples
# among them (tests/fuzz/gen_ws_seeds.py wrote them).
#
# Instrumented copies of the two sources; the rest of twist_proto (nothing
# these parsers call) is not needed, only libcrypto for SHA-1.
twist_fuzz(fuzz_ws_handshake SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_ws_handshake.c
	${CMAKE_SOURCE_DIR}/proto/ws_handshake.c
	LIBS OpenSSL::Crypto)
twist_fuzz(fuzz_ws_frame SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_ws_frame.c
	${CMAKE_SOURCE_DIR}/proto/ws_frame.c
	${CMAKE_SOURCE_DIR}/tests/proto/ws_util.c)
target_include_directories(fuzz_ws_frame PRIVATE ${CMAKE_SOURCE_DIR}/tests/proto)
