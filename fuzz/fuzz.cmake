# fuzz.cmake - libFuzzer targets (clang only), off by default:
#   cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DTT_FUZZ=ON -DTT_BUILD_TESTS=OFF
#   cmake --build build-fuzz --target fuzz_all
# The library sources are compiled a second time, into tt_fuzzlib, with
# coverage instrumentation and ASan+UBSan, whatever TT_SANITIZE says, so this
# file can be included anywhere after project(). bench/fuzz.sh drives it.
option(TT_FUZZ "Build the libFuzzer targets in fuzz/ (needs clang)" OFF)

if(TT_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "TT_FUZZ needs clang (libFuzzer): configure with -DCMAKE_C_COMPILER=clang")
  endif()
  set(TT_FUZZ_SAN -fsanitize=address,undefined -fno-sanitize-recover=undefined
      -fno-omit-frame-pointer -g)
  file(GLOB TT_FUZZ_LIB_SOURCES CONFIGURE_DEPENDS
       ${CMAKE_SOURCE_DIR}/analyze/*.c ${CMAKE_SOURCE_DIR}/capture/*.c ${CMAKE_SOURCE_DIR}/ring/*.c)
  add_library(tt_fuzzlib STATIC ${TT_FUZZ_LIB_SOURCES} ${CMAKE_SOURCE_DIR}/fuzz/harness.c)
  target_include_directories(tt_fuzzlib PUBLIC ${CMAKE_SOURCE_DIR}/include ${CMAKE_SOURCE_DIR})
  target_compile_definitions(tt_fuzzlib PRIVATE TT_BUILDING_LIBRARY _GNU_SOURCE)
  target_compile_options(tt_fuzzlib PRIVATE ${TT_FUZZ_SAN} -fsanitize=fuzzer-no-link)
  target_link_libraries(tt_fuzzlib PUBLIC PkgConfig::PCAP PkgConfig::NDPI PkgConfig::JANSSON
                        Threads::Threads m)
  tt_warnings(tt_fuzzlib)

  add_custom_target(fuzz_all)
  # fuzz_<name> from fuzz/<source>.c [with extra definitions]
  function(tt_fuzz_target name source)
    add_executable(fuzz_${name} ${CMAKE_SOURCE_DIR}/fuzz/${source}.c)
    target_compile_options(fuzz_${name} PRIVATE ${TT_FUZZ_SAN} -fsanitize=fuzzer)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_compile_definitions(fuzz_${name} PRIVATE _GNU_SOURCE ${ARGN})
    target_link_libraries(fuzz_${name} PRIVATE tt_fuzzlib)
    tt_warnings(fuzz_${name})
    add_dependencies(fuzz_all fuzz_${name})
  endfunction()
  tt_fuzz_target(decode fuzz_decode)
  tt_fuzz_target(decode_dpi fuzz_decode TT_FUZZ_DPI=1)
  tt_fuzz_target(pcapfile fuzz_pcapfile)
  tt_fuzz_target(control fuzz_control)
endif()
