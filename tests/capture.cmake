# capture - the capture-file reader (tt_pcapfile): batched reads against single ones.
tt_add_criterion(test_pcapfile
  SOURCES ${CMAKE_SOURCE_DIR}/tests/test_pcapfile.c
  LIBS tunneltap
  LABELS capture)
