# relay/mice_ha.c: the M-ICE home agent's core with a fake send (links only
# relay_mice and what it builds on).
twist_unit(test_mice_ha SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_mice_ha.c LIBS relay_mice relay_config)
