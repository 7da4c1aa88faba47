# Analyzer unit tests: decoder, flow tracking and verdicts, captures.
tt_add_criterion(test_decode SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_decode.c LIBS tunneltap)
tt_add_criterion(test_flow SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_flow.c LIBS tunneltap)
tt_add_script_test(test_ndpi_tshark test_ndpi_tshark.sh LABELS captures)
tt_add_criterion(test_regress SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_regress.c LIBS tunneltap)
