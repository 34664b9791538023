# sysroot.cmake - makes the build-local sysroot the agent is cross-built
# against: downloads Debian's DEB_ARCH packages of XNNPACK and the other
# libraries the agent links (`apt-get download`: nothing is installed on the
# build machine, so they never conflict with the host's own -dev packages),
# unpacks them with `dpkg-deb -x` into DEST/sysroot, and adds the C runtime
# of Debian's cross toolchain (/usr/TRIPLET/lib) so that the sysroot also
# runs the agent under `qemu-user -L`. DEST/sysroot/.complete is written
# last and holds XNNPACK's package version.
#
#   cmake -DTRIPLET=aarch64-linux-gnu -DDEB_ARCH=arm64 -DDEST=DIR -P sysroot.cmake
#
# Needs the architecture known to dpkg and apt (as root, once:
# `dpkg --add-architecture arm64 && apt-get update`; scripts/bootstrap does).
cmake_minimum_required(VERSION 3.18)
foreach(var TRIPLET DEB_ARCH DEST)
  if(NOT ${var})
    message(FATAL_ERROR "sysroot.cmake: -D${var}=... is required")
  endif()
endforeach()

set(packages libxnnpack0 libxnnpack-dev libpthreadpool0 libpthreadpool-dev
    libcpuinfo0 libcpuinfo-dev libjansson4 libjansson-dev libpapi7.0 libpapi-dev
    libpfm4 libpfm4-dev)

execute_process(COMMAND dpkg --print-foreign-architectures
                OUTPUT_VARIABLE foreign RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0 OR NOT foreign MATCHES "(^|\n)${DEB_ARCH}(\n|$)")
  message(FATAL_ERROR "dpkg does not know the ${DEB_ARCH} architecture: run, as root, "
          "`dpkg --add-architecture ${DEB_ARCH} && apt-get update`")
endif()
if(NOT EXISTS /usr/${TRIPLET}/lib)
  message(FATAL_ERROR "no /usr/${TRIPLET}/lib: install Debian's gcc-${TRIPLET}")
endif()

set(debs ${DEST}/debs)
set(root ${DEST}/sysroot)
file(REMOVE_RECURSE ${root})
file(MAKE_DIRECTORY ${debs} ${root})
set(wanted "")
foreach(p ${packages})
  file(GLOB have ${debs}/${p}_*_${DEB_ARCH}.deb)
  if(NOT have)
    list(APPEND wanted ${p}:${DEB_ARCH})
  endif()
endforeach()
if(wanted)
  execute_process(COMMAND apt-get download ${wanted} WORKING_DIRECTORY ${debs}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "apt-get download ${wanted} failed (${rc}): ${err}")
  endif()
endif()

set(xnnpack_version "")
foreach(p ${packages})
  file(GLOB deb ${debs}/${p}_*_${DEB_ARCH}.deb)
  list(LENGTH deb n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "expected one ${p} ${DEB_ARCH} package in ${debs}, found ${n}")
  endif()
  execute_process(COMMAND dpkg-deb -x ${deb} ${root} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "dpkg-deb -x ${deb}: ${err}")
  endif()
  if(p STREQUAL "libxnnpack0")
    execute_process(COMMAND dpkg-deb -f ${deb} Version OUTPUT_VARIABLE xnnpack_version
                    OUTPUT_STRIP_TRAILING_WHITESPACE)
  endif()
endforeach()

# The C runtime, where the target's dynamic loader looks for it.
file(GLOB runtime
     /usr/${TRIPLET}/lib/ld-linux*.so* /usr/${TRIPLET}/lib/libc.so.* /usr/${TRIPLET}/lib/libm.so.*
     /usr/${TRIPLET}/lib/libpthread.so.* /usr/${TRIPLET}/lib/libdl.so.* /usr/${TRIPLET}/lib/librt.so.*
     /usr/${TRIPLET}/lib/libgcc_s.so*)
file(COPY ${runtime} DESTINATION ${root}/lib/${TRIPLET})
file(GLOB loader /usr/${TRIPLET}/lib/ld-linux*.so*)
file(COPY ${loader} DESTINATION ${root}/lib FOLLOW_SYMLINK_CHAIN)
file(WRITE ${root}/.complete "${xnnpack_version}\n")
