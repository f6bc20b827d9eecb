# relay/ratelimit.c: links only relay_ratelimit (and pthreads, to share it).
twist_unit(test_ratelimit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ratelimit.c LIBS relay_ratelimit Threads::Threads)
