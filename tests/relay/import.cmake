# relay/import_check.c: links only relay_import (and relay_config for the defaults).
twist_unit(test_import_check SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_import_check.c
	LIBS relay_import relay_config)
