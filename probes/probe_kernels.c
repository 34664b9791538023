/* probe_kernels.c - the two compute loops device characterization times:
 * chains of independent fused multiply-adds (peak FP32 FLOP/s) and a
 * vector sum over a buffer (read bandwidth), each in one variant per ISA.
 *
 * The library is built for the baseline ISA (no -march=native: a build must
 * run on any x86-64), so the wide variants are compiled with GCC's target
 * attribute and the one to run is picked at run time from CPUID
 * (__builtin_cpu_supports, which also checks that the OS saves the wide
 * registers). The chains are written with intrinsics rather than left to the
 * vectoriser: ISO C mode disables FP contraction, so plain a*b+c would not
 * become an FMA, and the number of independent chains must be exact to
 * cover the FMA latency x throughput of current cores (4-5 cycles x 2
 * pipes). Other architectures get a NEON variant (AArch64) or a generic one
 * with GCC vector types (multiply then add: peak is then a lower bound). */
#include <string.h>

#include "probes/probe_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define OC__X86 1
#else
#define OC__X86 0
#endif
#if defined(__aarch64__)
#include <arm_neon.h>
#define OC__NEON 1
#else
#define OC__NEON 0
#endif

/* The chains converge to add / (1 - mul) = 0.1: values stay normal, so no
 * denormal slow path is ever taken. */
#define FMA_MUL 0.999999f
#define FMA_ADD 1e-7f

#if OC__X86
__attribute__((target("avx512f"))) static double fma_avx512(int64_t iters, float *sink) {
  const __m512 mul = _mm512_set1_ps(FMA_MUL), add = _mm512_set1_ps(FMA_ADD);
  __m512 a0 = _mm512_set1_ps(0.01f), a1 = _mm512_set1_ps(0.02f), a2 = _mm512_set1_ps(0.03f);
  __m512 a3 = _mm512_set1_ps(0.04f), a4 = _mm512_set1_ps(0.05f), a5 = _mm512_set1_ps(0.06f);
  __m512 a6 = _mm512_set1_ps(0.07f), a7 = _mm512_set1_ps(0.08f), a8 = _mm512_set1_ps(0.09f);
  __m512 a9 = _mm512_set1_ps(0.10f), a10 = _mm512_set1_ps(0.11f), a11 = _mm512_set1_ps(0.12f);
  __m512 a12 = _mm512_set1_ps(0.13f), a13 = _mm512_set1_ps(0.14f), a14 = _mm512_set1_ps(0.15f);
  __m512 a15 = _mm512_set1_ps(0.16f);
  for (int64_t i = 0; i < iters; i++) {
    a0 = _mm512_fmadd_ps(a0, mul, add);
    a1 = _mm512_fmadd_ps(a1, mul, add);
    a2 = _mm512_fmadd_ps(a2, mul, add);
    a3 = _mm512_fmadd_ps(a3, mul, add);
    a4 = _mm512_fmadd_ps(a4, mul, add);
    a5 = _mm512_fmadd_ps(a5, mul, add);
    a6 = _mm512_fmadd_ps(a6, mul, add);
    a7 = _mm512_fmadd_ps(a7, mul, add);
    a8 = _mm512_fmadd_ps(a8, mul, add);
    a9 = _mm512_fmadd_ps(a9, mul, add);
    a10 = _mm512_fmadd_ps(a10, mul, add);
    a11 = _mm512_fmadd_ps(a11, mul, add);
    a12 = _mm512_fmadd_ps(a12, mul, add);
    a13 = _mm512_fmadd_ps(a13, mul, add);
    a14 = _mm512_fmadd_ps(a14, mul, add);
    a15 = _mm512_fmadd_ps(a15, mul, add);
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s,
                    _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)),
                                  _mm512_add_ps(_mm512_add_ps(a12, a13), _mm512_add_ps(a14, a15))));
  *sink += _mm512_reduce_add_ps(s);
  return (double)iters * 16 * 16 * 2;
}

__attribute__((target("avx2,fma"))) static double fma_avx2(int64_t iters, float *sink) {
  const __m256 mul = _mm256_set1_ps(FMA_MUL), add = _mm256_set1_ps(FMA_ADD);
  __m256 a0 = _mm256_set1_ps(0.01f), a1 = _mm256_set1_ps(0.02f), a2 = _mm256_set1_ps(0.03f);
  __m256 a3 = _mm256_set1_ps(0.04f), a4 = _mm256_set1_ps(0.05f), a5 = _mm256_set1_ps(0.06f);
  __m256 a6 = _mm256_set1_ps(0.07f), a7 = _mm256_set1_ps(0.08f), a8 = _mm256_set1_ps(0.09f);
  __m256 a9 = _mm256_set1_ps(0.10f), a10 = _mm256_set1_ps(0.11f), a11 = _mm256_set1_ps(0.12f);
  for (int64_t i = 0; i < iters; i++) {
    a0 = _mm256_fmadd_ps(a0, mul, add);
    a1 = _mm256_fmadd_ps(a1, mul, add);
    a2 = _mm256_fmadd_ps(a2, mul, add);
    a3 = _mm256_fmadd_ps(a3, mul, add);
    a4 = _mm256_fmadd_ps(a4, mul, add);
    a5 = _mm256_fmadd_ps(a5, mul, add);
    a6 = _mm256_fmadd_ps(a6, mul, add);
    a7 = _mm256_fmadd_ps(a7, mul, add);
    a8 = _mm256_fmadd_ps(a8, mul, add);
    a9 = _mm256_fmadd_ps(a9, mul, add);
    a10 = _mm256_fmadd_ps(a10, mul, add);
    a11 = _mm256_fmadd_ps(a11, mul, add);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  for (int i = 0; i < 8; i++) *sink += lanes[i];
  return (double)iters * 12 * 8 * 2;
}

__attribute__((target("avx512f"))) static float read_avx512(const float *data, size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    s0 = _mm512_add_ps(s0, _mm512_loadu_ps(data + i));
    s1 = _mm512_add_ps(s1, _mm512_loadu_ps(data + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_loadu_ps(data + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_loadu_ps(data + i + 48));
    s4 = _mm512_add_ps(s4, _mm512_loadu_ps(data + i + 64));
    s5 = _mm512_add_ps(s5, _mm512_loadu_ps(data + i + 80));
    s6 = _mm512_add_ps(s6, _mm512_loadu_ps(data + i + 96));
    s7 = _mm512_add_ps(s7, _mm512_loadu_ps(data + i + 112));
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)),
                           _mm512_add_ps(_mm512_add_ps(s4, s5), _mm512_add_ps(s6, s7)));
  float total = _mm512_reduce_add_ps(s);
  for (; i < n; i++) total += data[i];
  return total;
}

__attribute__((target("avx2"))) static float read_avx2(const float *data, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm256_add_ps(s0, _mm256_loadu_ps(data + i));
    s1 = _mm256_add_ps(s1, _mm256_loadu_ps(data + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_loadu_ps(data + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_loadu_ps(data + i + 24));
    s4 = _mm256_add_ps(s4, _mm256_loadu_ps(data + i + 32));
    s5 = _mm256_add_ps(s5, _mm256_loadu_ps(data + i + 40));
    s6 = _mm256_add_ps(s6, _mm256_loadu_ps(data + i + 48));
    s7 = _mm256_add_ps(s7, _mm256_loadu_ps(data + i + 56));
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)),
                           _mm256_add_ps(_mm256_add_ps(s4, s5), _mm256_add_ps(s6, s7)));
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  float total = 0;
  for (int k = 0; k < 8; k++) total += lanes[k];
  for (; i < n; i++) total += data[i];
  return total;
}
#endif

#if OC__NEON
static double fma_neon(int64_t iters, float *sink) {
  const float32x4_t mul = vdupq_n_f32(FMA_MUL), add = vdupq_n_f32(FMA_ADD);
  float32x4_t a[12];
  for (int k = 0; k < 12; k++) a[k] = vdupq_n_f32(0.01f * (float)(k + 1));
  for (int64_t i = 0; i < iters; i++) {
    a[0] = vfmaq_f32(add, a[0], mul);
    a[1] = vfmaq_f32(add, a[1], mul);
    a[2] = vfmaq_f32(add, a[2], mul);
    a[3] = vfmaq_f32(add, a[3], mul);
    a[4] = vfmaq_f32(add, a[4], mul);
    a[5] = vfmaq_f32(add, a[5], mul);
    a[6] = vfmaq_f32(add, a[6], mul);
    a[7] = vfmaq_f32(add, a[7], mul);
    a[8] = vfmaq_f32(add, a[8], mul);
    a[9] = vfmaq_f32(add, a[9], mul);
    a[10] = vfmaq_f32(add, a[10], mul);
    a[11] = vfmaq_f32(add, a[11], mul);
  }
  float32x4_t s = a[0];
  for (int k = 1; k < 12; k++) s = vaddq_f32(s, a[k]);
  *sink += vaddvq_f32(s);
  return (double)iters * 12 * 4 * 2;
}
#endif

/* Generic: GCC vector types (SSE2 / the target's SIMD), multiply then add. */
typedef float v4sf __attribute__((vector_size(16)));

static double fma_generic(int64_t iters, float *sink) {
  const v4sf mul = {FMA_MUL, FMA_MUL, FMA_MUL, FMA_MUL};
  const v4sf add = {FMA_ADD, FMA_ADD, FMA_ADD, FMA_ADD};
  v4sf a0 = mul * 0.01f, a1 = mul * 0.02f, a2 = mul * 0.03f, a3 = mul * 0.04f;
  v4sf a4 = mul * 0.05f, a5 = mul * 0.06f, a6 = mul * 0.07f, a7 = mul * 0.08f;
  for (int64_t i = 0; i < iters; i++) {
    a0 = a0 * mul + add;
    a1 = a1 * mul + add;
    a2 = a2 * mul + add;
    a3 = a3 * mul + add;
    a4 = a4 * mul + add;
    a5 = a5 * mul + add;
    a6 = a6 * mul + add;
    a7 = a7 * mul + add;
  }
  v4sf s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  float lanes[4];
  memcpy(lanes, &s, sizeof lanes);
  *sink += lanes[0] + lanes[1] + lanes[2] + lanes[3];
  return (double)iters * 8 * 4 * 2;
}

static float read_generic(const float *data, size_t n) {
  v4sf s0 = {0, 0, 0, 0}, s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    v4sf x0, x1, x2, x3;
    memcpy(&x0, data + i, sizeof x0);
    memcpy(&x1, data + i + 4, sizeof x1);
    memcpy(&x2, data + i + 8, sizeof x2);
    memcpy(&x3, data + i + 12, sizeof x3);
    s0 += x0;
    s1 += x1;
    s2 += x2;
    s3 += x3;
  }
  v4sf s = s0 + s1 + s2 + s3;
  float lanes[4];
  memcpy(lanes, &s, sizeof lanes);
  float total = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; i < n; i++) total += data[i];
  return total;
}

const char *oc__kernel_isa(void) {
#if OC__X86
  if (__builtin_cpu_supports("avx512f")) return "avx512f";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
#endif
#if OC__NEON
  return "neon";
#endif
  return "generic";
}

double oc__fma_kernel(int64_t iters, float *sink) {
#if OC__X86
  if (__builtin_cpu_supports("avx512f")) return fma_avx512(iters, sink);
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fma_avx2(iters, sink);
#endif
#if OC__NEON
  return fma_neon(iters, sink);
#endif
  return fma_generic(iters, sink);
}

float oc__read_kernel(const float *data, size_t n) {
#if OC__X86
  if (__builtin_cpu_supports("avx512f")) return read_avx512(data, n);
  if (__builtin_cpu_supports("avx2")) return read_avx2(data, n);
#endif
  return read_generic(data, n);
}
