# fuzz_sync: sync messages through the decoder into the session machine
# (syncd/ and proto/flow.c). Seeds: every message kind as the unit tests
# build them, with the epochs the target's HELLO sets up
# (tests/syncd/gen_seeds.c wrote them).
#
# twist_fuzz() instruments only the target's own sources, so syncd_core's
# sources (read from the target, so the list cannot drift) and proto/flow.c
# are compiled into the fuzzer; the protobuf-c descriptors come from
# twist_flow (its flow.o is not pulled in: the instrumented one wins).
twist_fuzz_sources(fuzz_sync_srcs syncd_core)
twist_fuzz(fuzz_sync SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_sync.c ${fuzz_sync_srcs}
	${CMAKE_SOURCE_DIR}/proto/flow.c
	LIBS twist_common twist_flow)
