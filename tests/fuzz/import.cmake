# fuzz_import: the standby's import path without a worker: flow_local_unpack
# (with the byte budget), flowconv_key, import_check, flowconv_apply into a
# scratch allocation, and TWIST flows through twist_tuple.c into a scratch
# flow (tests/fuzz/fuzz_import.c). Seeds: packed Locals of flows that pass
# the target's limits, and a few that break one rule each
# (tests/fuzz/gen_import_seeds.py wrote them; gen_twist_import_seeds.py the
# twist-*.bin ones).
#
# The sources under test are compiled into the target with coverage; the
# rest (allocations, config defaults) comes from relay_core uninstrumented.
twist_require_files(gen_twist_import_seeds.py)
if(TARGET relay_core)
	twist_fuzz(fuzz_import SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_import.c
		${CMAKE_SOURCE_DIR}/relay/import_check.c
		${CMAKE_SOURCE_DIR}/relay/flowconv.c
		${CMAKE_SOURCE_DIR}/relay/twist_tuple.c
		${CMAKE_SOURCE_DIR}/relay/policy.c
		${CMAKE_SOURCE_DIR}/proto/flow.c
		LIBS relay_core)
endif()
