# relay core modules that depend on each other link relay_core.
twist_unit(test_registry SOURCES test_registry.c LIBS relay_core)
twist_unit(test_ports SOURCES test_ports.c LIBS relay_core)
twist_unit(test_flowconv SOURCES test_flowconv.c LIBS relay_core)
