# relay/fastpath_deadline.c: links only relay_fpdeadline.
twist_unit(test_fastpath_deadline SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_fastpath_deadline.c
	LIBS relay_fpdeadline)
