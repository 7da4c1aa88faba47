# hardening - fuzz regressions, allocation failure, hostile captures, SYN flood
# (docs/hardening.md). The libFuzzer targets themselves are fuzz/fuzz.cmake.
tt_add_criterion(test_fuzz_regress
  SOURCES ${CMAKE_SOURCE_DIR}/tests/test_fuzz_regress.c ${CMAKE_SOURCE_DIR}/fuzz/harness.c
  LIBS tunneltap PkgConfig::JANSSON
  LABELS fuzz)
tt_add_criterion(test_oom SOURCES ${CMAKE_SOURCE_DIR}/tests/test_oom.c LIBS tunneltap LABELS oom)
tt_add_script_test(test_hostile test_hostile.sh LABELS cli hostile)

# The SYN flood, smaller than bench/flood.sh's million: 400,000 SYNs within 4 s
# overflow the default replay table (262,144 flows) and the embedded one.
add_executable(gen_flood ${CMAKE_SOURCE_DIR}/bench/gen_flood.c)
target_include_directories(gen_flood PRIVATE ${CMAKE_SOURCE_DIR})
target_compile_definitions(gen_flood PRIVATE _GNU_SOURCE)
target_link_libraries(gen_flood PRIVATE tunneltap Threads::Threads)
tt_warnings(gen_flood)
add_test(NAME flood_small COMMAND bash ${CMAKE_SOURCE_DIR}/bench/flood.sh 400000
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(flood_small PROPERTIES LABELS slow
  ENVIRONMENT "TT_BIN=$<TARGET_FILE:tunneltap_cli>;TT_GEN_FLOOD=$<TARGET_FILE:gen_flood>;TT_BUILD=${CMAKE_BINARY_DIR}")
