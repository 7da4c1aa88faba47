# evidence - the pcapng writer and --evidence (unit, against captures/), the HTML report.
tt_add_criterion(test_pcapng_writer
  SOURCES ${CMAKE_SOURCE_DIR}/tests/test_pcapng_writer.c ${CMAKE_SOURCE_DIR}/cli/pcapng_writer.c
          ${CMAKE_SOURCE_DIR}/cli/evidence.c ${CMAKE_SOURCE_DIR}/cli/connlog.c ${CMAKE_SOURCE_DIR}/cli/connbuf.c
          ${CMAKE_SOURCE_DIR}/cli/jsonlog.c
  LIBS tunneltap PkgConfig::JANSSON
  LABELS cli evidence)

tt_add_criterion(test_report
  SOURCES ${CMAKE_SOURCE_DIR}/tests/test_report.c ${CMAKE_SOURCE_DIR}/cli/report.c
          ${CMAKE_SOURCE_DIR}/cli/summary.c ${CMAKE_SOURCE_DIR}/cli/connlog.c ${CMAKE_SOURCE_DIR}/cli/connbuf.c
          ${CMAKE_SOURCE_DIR}/cli/jsonlog.c
  LIBS tunneltap PkgConfig::JANSSON m
  LABELS cli report)
