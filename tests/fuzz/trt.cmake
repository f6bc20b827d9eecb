# fuzz_trt_addr: the translator's address mapping and access checks
# (proto/trt_addr.c): prefix, address and rule texts or raw address bytes.
# Links twist_proto_fuzz (stun.cmake). Seeds: the lab's prefix, server and
# rules, the well-known prefix, and the refused ranges.
twist_fuzz(fuzz_trt_addr SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_trt_addr.c LIBS twist_proto_fuzz)
