# aarch64-linux-gnu.cmake - CMake toolchain: tunneltap for 64-bit ARM Linux,
# built on x86-64 Debian with gcc-aarch64-linux-gnu against an arm64 sysroot
# (a directory holding Debian's arm64 libc6-dev, libpcap-dev, libndpi-dev...).
#
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=scripts/aarch64-linux-gnu.cmake \
#         -DTT_SYSROOT=/abs/path/to/sysroot
#
# tests/cross_aarch64.sh makes such a sysroot with mmdebstrap and runs the
# suite under qemu-user (docs/embedding.md, "Platforms").
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
# try_compile projects re-read this file: try_compile() gets the sysroot as a
# platform variable, the whole test projects that check_ipo_supported()
# configures get it from the environment this sets.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TT_SYSROOT)
if(NOT TT_SYSROOT AND DEFINED ENV{TT_SYSROOT})
  set(TT_SYSROOT $ENV{TT_SYSROOT})
endif()
if(NOT TT_SYSROOT)
  message(FATAL_ERROR "aarch64-linux-gnu.cmake: set -DTT_SYSROOT=<absolute path of an arm64 sysroot>")
endif()
set(ENV{TT_SYSROOT} ${TT_SYSROOT})
set(CMAKE_SYSROOT ${TT_SYSROOT})
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH ${TT_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config reads the sysroot's .pc files and prefixes their paths with it.
set(ENV{PKG_CONFIG_SYSROOT_DIR} ${TT_SYSROOT})
set(ENV{PKG_CONFIG_LIBDIR}
    ${TT_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${TT_SYSROOT}/usr/share/pkgconfig)
