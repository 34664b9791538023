# bench_gpu.cmake - build settings of bench/bench_gpu_gemm.c, included by
# bench/CMakeLists.txt after it has made the executable: the GPU targets it
# may use, and CLBlast (Debian libclblast-dev) as the GEMM to compare with.
# Without CLBlast the bench still runs and leaves its column empty.
if(TARGET bench_gpu_gemm)
  if(OPCOST_WITH_OPENCL)
    target_compile_definitions(bench_gpu_gemm PRIVATE OPCOST_WITH_OPENCL CL_TARGET_OPENCL_VERSION=120)
    pkg_check_modules(CLBLAST QUIET IMPORTED_TARGET clblast)
    if(CLBLAST_FOUND)
      message(STATUS "bench_gpu_gemm: comparing with CLBlast ${CLBLAST_VERSION}")
      target_compile_definitions(bench_gpu_gemm PRIVATE OPCOST_BENCH_CLBLAST)
      target_link_libraries(bench_gpu_gemm PRIVATE PkgConfig::CLBLAST)
    else()
      message(STATUS "bench_gpu_gemm: CLBlast not found (libclblast-dev); no comparison")
    endif()
  endif()
  if(OPCOST_WITH_VULKAN)
    target_compile_definitions(bench_gpu_gemm PRIVATE OPCOST_WITH_VULKAN)
  endif()
endif()
