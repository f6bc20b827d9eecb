# relay/tls.c and relay/tls_selfsigned.c: contexts and certificates, no sockets.
twist_unit(test_tls SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_tls.c LIBS relay_core)
