# build.cmake - builds the cross agent (the ExternalProject's build step)
# without letting its failure fail the host build: the host library, CLI and
# tests do not need it, and the arm suites skip with the reason when the
# agent is missing. The failure stays visible in the build log.
#
#   cmake -DDIR=<cross build folder> -P build.cmake
cmake_minimum_required(VERSION 3.18)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${DIR} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(WARNING "aarch64 agent: the cross build failed (${rc}); the arm tests will not run")
endif()
