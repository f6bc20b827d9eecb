# relay/siphash.c: links only relay_hash.
twist_unit(test_siphash SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_siphash.c LIBS relay_hash)
