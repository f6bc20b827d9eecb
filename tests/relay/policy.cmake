# relay/policy.c: links only relay_policy.
twist_unit(test_policy SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_policy.c LIBS relay_policy)
