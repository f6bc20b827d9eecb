# relay/userdb.c (SQLite) and the database snapshot behind relay/auth.c.
twist_unit(test_userdb SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_userdb.c
	LIBS relay_userdb relay_auth)
# The loader thread over a real file, and the control socket's line parser.
twist_unit(test_userdb_load SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_userdb_load.c
	LIBS relay_core)
twist_unit(test_control_parse SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_control_parse.c
	LIBS relay_control_parse)
