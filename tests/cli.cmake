# cli - output writers (unit) and the `tunneltap replay` command (end to end).

# The connection records' writers and the summary, which the tests below link.
set(TT_CLI_RECORD_SOURCES ${CMAKE_SOURCE_DIR}/cli/connlog.c ${CMAKE_SOURCE_DIR}/cli/connbuf.c
    ${CMAKE_SOURCE_DIR}/cli/jsonlog.c ${CMAKE_SOURCE_DIR}/cli/summary.c)

tt_add_criterion(test_output
  SOURCES ${CMAKE_SOURCE_DIR}/tests/test_output.c ${TT_CLI_RECORD_SOURCES}
  LIBS tunneltap PkgConfig::JANSSON
  LABELS cli)
# test_output fails chosen reallocs of the writers (__wrap_realloc).
target_link_options(test_output PRIVATE -Wl,--wrap=realloc)

tt_add_script_test(test_replay_cli test_replay_cli.sh LABELS cli)

# The handoff queue between replay's threads: a plain program (Criterion
# cannot run under ThreadSanitizer), so `ctest -L tsan` runs it too.
add_executable(tsan_handoff ${CMAKE_SOURCE_DIR}/tests/tsan_handoff.c ${CMAKE_SOURCE_DIR}/cli/handoff.c
  ${TT_CLI_RECORD_SOURCES})
target_include_directories(tsan_handoff PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/include)
target_compile_definitions(tsan_handoff PRIVATE _GNU_SOURCE)
target_link_libraries(tsan_handoff PRIVATE tunneltap PkgConfig::JANSSON Threads::Threads)
tt_warnings(tsan_handoff)
add_test(NAME tsan_handoff COMMAND tsan_handoff)
set_tests_properties(tsan_handoff PROPERTIES LABELS "cli;tsan")

# Sorted-log runs written by the background writer thread: under TSan too.
add_executable(tsan_connbuf ${CMAKE_SOURCE_DIR}/tests/tsan_connbuf.c ${CMAKE_SOURCE_DIR}/cli/connbuf.c)
target_include_directories(tsan_connbuf PRIVATE ${CMAKE_SOURCE_DIR} ${CMAKE_SOURCE_DIR}/include)
target_compile_definitions(tsan_connbuf PRIVATE _GNU_SOURCE)
target_link_libraries(tsan_connbuf PRIVATE tunneltap Threads::Threads)
tt_warnings(tsan_connbuf)
add_test(NAME tsan_connbuf COMMAND tsan_connbuf)
set_tests_properties(tsan_connbuf PROPERTIES LABELS "cli;tsan")

# The dashboard's rows (the aggregator, no terminal).
tt_add_criterion(test_dash_agg
  SOURCES ${CMAKE_SOURCE_DIR}/tests/test_dash_agg.c ${CMAKE_SOURCE_DIR}/cli/dash_agg.c ${TT_CLI_RECORD_SOURCES}
  LIBS tunneltap PkgConfig::JANSSON
  LABELS cli dashboard)
