# Allocations on an anycast address pinned to the node's unicast address
# (relay/anycast.c), alone and through the TURN core's fake transport.
twist_unit(test_anycast SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_anycast.c LIBS relay_harness)
