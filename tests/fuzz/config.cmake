# relay/config*.c: YAML in, struct config out. Seeds: the embedded default,
# the shipped example, the complete example of docs/configuration.md and the
# unit tests' bad documents.
#
# twist_fuzz() instruments only the target's own sources, and libFuzzer
# without coverage from the loader is a random-input test. So relay_config's
# sources (read from the target, so they cannot drift) are compiled into the
# fuzzer rather than linked from the library.
twist_fuzz_sources(fuzz_config_srcs relay_config)
twist_fuzz(fuzz_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.c ${fuzz_config_srcs}
	LIBS twist_common twist_proto PkgConfig::YAML)
