# fuzz_twist: the TWIST codec (proto/twist.c): demultiplexing, inner
# headers, checksums against a reference sum, IP packets from the TUN
# device, and the TWIST attributes inside STUN messages. It links
# twist_proto_fuzz, the instrumented copy of twist_proto that stun.cmake
# builds (listed before this fragment). Seeds: the vectors of
# docs/twist-protocol.md §8 (tests/fuzz/gen_twist_seeds.py).
twist_fuzz(fuzz_twist SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_twist.c LIBS twist_proto_fuzz)
