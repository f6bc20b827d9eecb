# relay/misdirect.c: links only relay_misdirect.
twist_unit(test_misdirect SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_misdirect.c LIBS relay_misdirect)
