# aarch64-linux-gnu.cmake - CMake toolchain file for cross-building the agent
# with Debian's gcc-aarch64-linux-gnu. Its own C library is the toolchain's
# (/usr/aarch64-linux-gnu); the other libraries come from the sysroot that
# agent/cross/sysroot.cmake unpacks (OPCOST_SYSROOT, see cross/CMakeLists.txt).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
