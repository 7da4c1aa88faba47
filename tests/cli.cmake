# cli - output writers (unit) and the `tunneltap replay` command (end to end).
tt_add_criterion(test_output
  SOURCES ${CMAKE_SOURCE_DIR}/tests/test_output.c ${CMAKE_SOURCE_DIR}/cli/connlog.c
          ${CMAKE_SOURCE_DIR}/cli/jsonlog.c ${CMAKE_SOURCE_DIR}/cli/summary.c
  LIBS tunneltap PkgConfig::JANSSON
  LABELS cli)

tt_add_script_test(test_replay_cli test_replay_cli.sh LABELS cli)
