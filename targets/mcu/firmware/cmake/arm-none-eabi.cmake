# arm-none-eabi.cmake - CMake toolchain file for the Cortex-M firmware: the
# GNU Arm Embedded compiler with newlib (Debian: gcc-arm-none-eabi,
# libnewlib-arm-none-eabi). Bare metal, so CMake must not try to link a test
# executable against a hosted C library.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

find_program(ARM_NONE_EABI_GCC arm-none-eabi-gcc REQUIRED)
get_filename_component(ARM_TOOLCHAIN_BIN ${ARM_NONE_EABI_GCC} DIRECTORY)
set(CMAKE_C_COMPILER ${ARM_NONE_EABI_GCC})
set(CMAKE_ASM_COMPILER ${ARM_NONE_EABI_GCC})
set(CMAKE_OBJCOPY ${ARM_TOOLCHAIN_BIN}/arm-none-eabi-objcopy CACHE FILEPATH "objcopy")
set(CMAKE_SIZE ${ARM_TOOLCHAIN_BIN}/arm-none-eabi-size CACHE FILEPATH "size")

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
