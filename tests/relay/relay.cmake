# tests/integration/turn_conformance.py: starts twist-relay itself (temporary
# configs on free loopback ports) and checks RFC 8489/8656 behaviour with its
# own STUN/TURN codec. python3 standard library only.
twist_require_files(${CMAKE_SOURCE_DIR}/tests/integration/turn_conformance.py
	${CMAKE_SOURCE_DIR}/tests/integration/stun_compat.py
	${CMAKE_SOURCE_DIR}/tests/integration/tcp_relay_cases.py
	${CMAKE_SOURCE_DIR}/tests/integration/ws_sock.py)
add_test(NAME relay_conformance
	COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/integration/turn_conformance.py $<TARGET_FILE:twist-relay>)
set_tests_properties(relay_conformance PROPERTIES LABELS integration TIMEOUT 300)
