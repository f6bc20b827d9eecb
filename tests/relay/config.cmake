# relay/config*.c: links only relay_config. Reads the shipped example and
# docs from the source tree, so that they cannot drift from the parser.
twist_unit(test_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_config.c LIBS relay_config)
target_compile_definitions(test_config PRIVATE TWIST_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
