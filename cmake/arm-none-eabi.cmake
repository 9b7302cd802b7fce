# SPDX-License-Identifier: MIT
# arm-none-eabi.cmake -- CMake toolchain file for a Cortex-M7 (the OpenMV
# Cam H7: Thumb-2, double-precision FPU, hard-float ABI) with the GNU Arm
# Embedded toolchain (arm-none-eabi-gcc on the PATH).
#
#   cmake -S . -B build/cm7 -DCMAKE_TOOLCHAIN_FILE=cmake/arm-none-eabi.cmake \
#         -DASYNCIO_PORT=openmv
#   cmake --build build/cm7        # libasyncio.a: the core + port_openmv.c
#
# Another Cortex-M: set ASYNCIO_ARM_FLAGS (e.g. "-mcpu=cortex-m4 -mthumb
# -mfloat-abi=hard -mfpu=fpv4-sp-d16"). Nothing is linked here: the firmware
# links the library with its own startup code and linker script.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(ASYNCIO_ARM_PREFIX arm-none-eabi- CACHE STRING "Prefix of the cross tools")
set(ASYNCIO_ARM_FLAGS "-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16"
    CACHE STRING "CPU flags for every compile and link")

set(CMAKE_C_COMPILER ${ASYNCIO_ARM_PREFIX}gcc)
set(CMAKE_ASM_COMPILER ${ASYNCIO_ARM_PREFIX}gcc)
set(CMAKE_AR ${ASYNCIO_ARM_PREFIX}ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${ASYNCIO_ARM_PREFIX}ranlib CACHE FILEPATH "")

set(CMAKE_C_FLAGS_INIT "${ASYNCIO_ARM_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${ASYNCIO_ARM_FLAGS}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${ASYNCIO_ARM_FLAGS} -Wl,--gc-sections")

# The compiler checks build a library: a program would need a linker script.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# Programs come from the host; headers, libraries and packages only from the
# toolchain's own tree (so the host's mbedTLS, say, is never picked up).
if(NOT CMAKE_FIND_ROOT_PATH)
  execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libc.a
                  OUTPUT_VARIABLE _asyncio_arm_libc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(IS_ABSOLUTE "${_asyncio_arm_libc}")
    get_filename_component(_asyncio_arm_root "${_asyncio_arm_libc}/../.." ABSOLUTE)
    set(CMAKE_FIND_ROOT_PATH "${_asyncio_arm_root}")
  endif()
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
