# relay/guard.c: links only relay_guard (and pthreads, to race it).
twist_unit(test_guard SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_guard.c LIBS relay_guard Threads::Threads)
