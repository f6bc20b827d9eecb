# fuzz_ftp_alg: the translator's FTP ALG (proto/ftp_alg.c), a session script
# fed whole and in fuzzer-chosen pieces through the relay stand-in of
# tests/proto/ftp_alg_util.c; both runs must agree. Seeds: the unit tests'
# sessions (tests/fuzz/gen_ftp_seeds.py). Instrumented copies of the ALG
# and proto/addr.c (its address parser) are all it needs.
twist_fuzz(fuzz_ftp_alg SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_ftp_alg.c
	${CMAKE_SOURCE_DIR}/proto/ftp_alg.c
	${CMAKE_SOURCE_DIR}/proto/addr.c
	${CMAKE_SOURCE_DIR}/tests/proto/ftp_alg_util.c)
target_include_directories(fuzz_ftp_alg PRIVATE ${CMAKE_SOURCE_DIR}/tests/proto)
