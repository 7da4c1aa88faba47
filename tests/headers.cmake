# Public headers: each compiles alone and included twice, warning-free with
# -Werror, as C99 and C11 with -Wpedantic and, when a C++ compiler is found
# and the build is not cross-compiled, as C++11 (an embedder's Objective-C++
# or NDK C++ source includes them). A build-time check: a header that fails
# fails the build.
file(GLOB tt_public_headers CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/include/tunneltap/*.h)
set(tt_hc_c "")
set(tt_hc_cxx "")
foreach(h ${tt_public_headers})
  get_filename_component(n ${h} NAME_WE)
  set(body "#include <tunneltap/${n}.h>\n#include <tunneltap/${n}.h>\n")
  string(APPEND body "int tt_header_check_${n}(void);\nint tt_header_check_${n}(void) { return 0; }\n")
  file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/header_check/${n}.c CONTENT "${body}")
  file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/header_check/${n}.cpp CONTENT "${body}")
  list(APPEND tt_hc_c ${CMAKE_CURRENT_BINARY_DIR}/header_check/${n}.c)
  list(APPEND tt_hc_cxx ${CMAKE_CURRENT_BINARY_DIR}/header_check/${n}.cpp)
endforeach()

foreach(std 99 11)
  add_library(tt_header_check_c${std} OBJECT ${tt_hc_c})
  set_target_properties(tt_header_check_c${std} PROPERTIES C_STANDARD ${std} C_EXTENSIONS OFF)
  target_include_directories(tt_header_check_c${std} PRIVATE ${CMAKE_SOURCE_DIR}/include)
  tt_warnings(tt_header_check_c${std})
  target_compile_options(tt_header_check_c${std} PRIVATE -Wpedantic)
endforeach()

include(CheckLanguage)
check_language(CXX)
if(CMAKE_CXX_COMPILER AND NOT CMAKE_CROSSCOMPILING)
  enable_language(CXX)
  include(CheckCXXCompilerFlag)
  set(tt_cxx_warnings -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
      -Wold-style-cast -Wcast-align -Wzero-as-null-pointer-constant -Wundef)
  # Clang only: identifiers the C++ standard reserves (a double underscore
  # anywhere in a name).
  foreach(f -Wreserved-identifier -Wreserved-macro-identifier)
    string(MAKE_C_IDENTIFIER "tt_cxx_has${f}" v)
    check_cxx_compiler_flag(${f} ${v})
    if(${v})
      list(APPEND tt_cxx_warnings ${f})
    endif()
  endforeach()
  add_library(tt_header_check_cxx11 OBJECT ${tt_hc_cxx})
  set_target_properties(tt_header_check_cxx11 PROPERTIES CXX_STANDARD 11 CXX_STANDARD_REQUIRED ON
                        CXX_EXTENSIONS OFF)
  target_include_directories(tt_header_check_cxx11 PRIVATE ${CMAKE_SOURCE_DIR}/include)
  target_compile_options(tt_header_check_cxx11 PRIVATE ${tt_cxx_warnings}
                         $<$<BOOL:${TT_WERROR}>:-Werror>)
else()
  message(STATUS "tunneltap: public headers not checked as C++ (no C++ compiler, or cross-compiling)")
endif()
