# Tap tests (two producers, host-driven drain, drops) and the example host.
tt_add_criterion(test_tap SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_tap.c LIBS tunneltap)

# Criterion cannot run under ThreadSanitizer: these two are plain programs.
add_executable(tsan_tap ${CMAKE_CURRENT_SOURCE_DIR}/tsan_tap.c)
target_include_directories(tsan_tap PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(tsan_tap PRIVATE tunneltap Threads::Threads)
target_compile_definitions(tsan_tap PRIVATE _POSIX_C_SOURCE=200809L) # nanosleep
tt_warnings(tsan_tap)
add_test(NAME tsan_tap COMMAND tsan_tap)
set_tests_properties(tsan_tap PROPERTIES LABELS tsan)

add_executable(embed_host ${CMAKE_SOURCE_DIR}/examples/embed_host.c)
target_link_libraries(embed_host PRIVATE tunneltap Threads::Threads)
tt_warnings(embed_host)
# The example links as an embedder's build would, without link-time
# optimization: with TT_LTO the library's objects are fat, and this is the
# check that they link and run so.
set_property(TARGET embed_host PROPERTY INTERPROCEDURAL_OPTIMIZATION OFF)
target_link_options(embed_host PRIVATE -fno-lto)
add_test(NAME example_embed_host COMMAND embed_host)
set_tests_properties(example_embed_host PROPERTIES LABELS tsan)
