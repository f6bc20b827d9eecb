# relay/config*.c: YAML in, struct config out. Seeds: the embedded default,
# the shipped example, the complete example of docs/configuration.md and the
# unit tests' bad documents.
#
# twist_fuzz() instruments only the target's own sources, and libFuzzer
# without coverage from the loader is a random-input test. So relay_config's
# sources (read from the target, so they cannot drift) are compiled into the
# fuzzer rather than linked from the library.
get_target_property(fuzz_config_dir relay_config SOURCE_DIR)
get_target_property(fuzz_config_rel relay_config SOURCES)
set(fuzz_config_srcs)
foreach(src IN LISTS fuzz_config_rel)
	if(NOT IS_ABSOLUTE ${src})
		set(src ${fuzz_config_dir}/${src})
	endif()
	list(APPEND fuzz_config_srcs ${src})
endforeach()
twist_fuzz(fuzz_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.c ${fuzz_config_srcs}
	LIBS twist_proto PkgConfig::YAML)
