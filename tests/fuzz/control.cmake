# fuzz_control: relay/control_parse.c, the control socket's command lines.
# Seeds: every command, with blanks, CR, arguments, control bytes and an
# overlong line.
twist_fuzz_sources(fuzz_control_srcs relay_control_parse)
twist_fuzz(fuzz_control SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_control.c ${fuzz_control_srcs})
