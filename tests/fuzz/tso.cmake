# fuzz_tso: cutting a TCP super-packet from a TUN read into segments
# (proto/tso.c). Seeds: IPv4 and IPv6 super-packets with and without
# payload (tests/fuzz/gen_tso_seeds.py).
twist_fuzz(fuzz_tso SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_tso.c LIBS twist_proto_fuzz)
