// gemm_tiled.comp - the product of gemm_reg.comp through shared memory:
// square work-groups of T x T (specialization constant 3 = local sizes x and
// y), each invocation one element of C. Grid (ceil(N/T), ceil(M/T), batch)
// work-groups.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(constant_id = 3) const uint T = 16;
layout(std430, set = 0, binding = 0) readonly buffer BufA { float A[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float B[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufBias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer BufC { float C[]; };
layout(push_constant) uniform Params { int M, N, K, tb, has_bias, act; } p;
shared float Asub[T * T];
shared float Bsub[T * T];

void main() {
  int ti = int(T);
  int tx = int(gl_LocalInvocationID.x), ty = int(gl_LocalInvocationID.y);
  int n = int(gl_GlobalInvocationID.x), m = int(gl_GlobalInvocationID.y);
  int b = int(gl_GlobalInvocationID.z);
  int a_base = b * p.M * p.K, b_base = b * p.K * p.N, c_base = b * p.M * p.N;
  float acc = 0.0;
  for (int k0 = 0; k0 < p.K; k0 += ti) {
    int ka = k0 + tx, kb = k0 + ty;
    Asub[ty * ti + tx] = (m < p.M && ka < p.K) ? A[a_base + m * p.K + ka] : 0.0;
    float bv = 0.0;
    if (n < p.N && kb < p.K)
      bv = p.tb != 0 ? B[b_base + n * p.K + kb] : B[b_base + kb * p.N + n];
    Bsub[ty * ti + tx] = bv;
    memoryBarrierShared();
    barrier();
    for (int kk = 0; kk < ti; kk++) acc = fma(Asub[ty * ti + kk], Bsub[kk * ti + tx], acc);
    memoryBarrierShared();
    barrier();
  }
  if (m < p.M && n < p.N) {
    if (p.has_bias != 0) acc += bias[n];
    C[c_base + m * p.N + n] = act_apply(acc, p.act);
  }
}
