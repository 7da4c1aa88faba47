# ring.cmake - tests for the SPSC packet ring; "tsan" puts them in `ctest -L tsan`.
tt_add_criterion(test_ring SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ring.c LABELS tsan LIBS tt_ring)
