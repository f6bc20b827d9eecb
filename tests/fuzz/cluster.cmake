# fuzz_cluster: sibling load reports (proto/cluster.c). It links
# twist_proto_fuzz, the instrumented copy of twist_proto that stun.cmake
# builds (listed before this fragment). Seeds: a plain report, one with the
# most recent-client hashes and the longest name, and one signed with
# another key, each with a mode byte in front (0: as sent, 1: re-signed by
# the target); made with Python's hmac, as docs/cluster-protocol.md lays
# the fields out.
twist_fuzz(fuzz_cluster SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_cluster.c LIBS twist_proto_fuzz)
