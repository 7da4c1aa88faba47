# Portability of the embeddable sources to Apple's platforms: the system
# headers they include (any build), and `make test-portable`'s build of them.
set(tt_portable_flags ${NDPI_CFLAGS})
if(CMAKE_SYSROOT)
  list(APPEND tt_portable_flags --sysroot=${CMAKE_SYSROOT})
endif()
string(JOIN " " tt_ndpi_cflags ${tt_portable_flags})
add_test(NAME portable_includes COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_portable_includes.sh)
set_tests_properties(portable_includes PROPERTIES
  ENVIRONMENT "CC=${CMAKE_C_COMPILER};TT_CPPFLAGS=${tt_ndpi_cflags}" LABELS portable)
