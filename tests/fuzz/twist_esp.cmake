# fuzz_twist_esp: tunnel mode's ESP (proto/twist_esp.c): classification,
# parsing, and the inner packet behind it as the relay validates it. Seeds
# are the ESP vectors of docs/twist-protocol.md §9.6
# (tests/fuzz/gen_twist_esp_seeds.py).
twist_fuzz(fuzz_twist_esp SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_twist_esp.c LIBS twist_proto_fuzz)
