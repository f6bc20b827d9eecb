# relay/auth.c, auth_nonce.c, auth_db.c: links only relay_auth.
twist_unit(test_auth SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_auth.c LIBS relay_auth)
