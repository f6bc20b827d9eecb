# fuzz_ha_notify: ha/notify.c, keepalived's notify_fifo lines and their
# assembly across reads, plus the role transition they drive (ha/state.c).
# Seeds: the unit tests' good lines, LVS lines, and malformed ones.
#
# ha_core is built without coverage instrumentation, so its sources (read
# from the target, so the list cannot drift) are compiled into the fuzzer.
twist_fuzz_sources(fuzz_ha_srcs ha_core)
twist_fuzz(fuzz_ha_notify SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_ha_notify.c ${fuzz_ha_srcs})
