# ring.cmake - tests for the SPSC packet ring; "tsan" puts them in `ctest -L tsan`.
tt_add_criterion(test_ring SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ring.c LABELS tsan LIBS tt_ring)
# The sleep and wake-up protocol, model-checked with spin (tests/ring_wake.pml).
tt_add_script_test(test_ring_model test_ring_model.sh LABELS model)
