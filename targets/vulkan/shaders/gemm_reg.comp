// gemm_reg.comp - C[b][m][n] = act(bias[n] + sum_k A[b][m][k] * B(b,k,n)),
// B(b,k,n) = B[b][k][n] (tb = 0) or B[b][n][k] (tb = 1); each invocation a
// 4 x 4 block of C from global memory (caches do the reuse). Grid
// (ceil(N/4), ceil(M/4), batch). Serves matmul, fc, 1x1 and im2col convs.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(std430, set = 0, binding = 0) readonly buffer BufA { float A[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float B[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufBias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer BufC { float C[]; };
layout(push_constant) uniform Params { int M, N, K, tb, has_bias, act; } p;

void main() {
  int n0 = int(gl_GlobalInvocationID.x) * 4, m0 = int(gl_GlobalInvocationID.y) * 4;
  int b = int(gl_GlobalInvocationID.z);
  if (n0 >= p.N || m0 >= p.M) return;
  int a_base = b * p.M * p.K, b_base = b * p.K * p.N, c_base = b * p.M * p.N;
  // Rows and columns past the edge read the last valid one; not stored.
  ivec4 mi = min(ivec4(m0) + ivec4(0, 1, 2, 3), ivec4(p.M - 1));
  ivec4 ni = min(ivec4(n0) + ivec4(0, 1, 2, 3), ivec4(p.N - 1));
  mat4 acc = mat4(0.0); // acc[j][i]: column j (n), row i (m)
  if (p.tb != 0) {
    for (int k = 0; k < p.K; k++) {
      vec4 a = vec4(A[a_base + mi.x * p.K + k], A[a_base + mi.y * p.K + k],
                    A[a_base + mi.z * p.K + k], A[a_base + mi.w * p.K + k]);
      acc[0] += a * B[b_base + ni.x * p.K + k];
      acc[1] += a * B[b_base + ni.y * p.K + k];
      acc[2] += a * B[b_base + ni.z * p.K + k];
      acc[3] += a * B[b_base + ni.w * p.K + k];
    }
  } else {
    for (int k = 0; k < p.K; k++) {
      vec4 a = vec4(A[a_base + mi.x * p.K + k], A[a_base + mi.y * p.K + k],
                    A[a_base + mi.z * p.K + k], A[a_base + mi.w * p.K + k]);
      int row = b_base + k * p.N;
      acc[0] += a * B[row + ni.x];
      acc[1] += a * B[row + ni.y];
      acc[2] += a * B[row + ni.z];
      acc[3] += a * B[row + ni.w];
    }
  }
  for (int i = 0; i < 4; i++) {
    if (m0 + i >= p.M) break;
    for (int j = 0; j < 4; j++) {
      if (n0 + j >= p.N) break;
      float v = acc[j][i];
      if (p.has_bias != 0) v += bias[n0 + j];
      C[c_base + (m0 + i) * p.N + n0 + j] = act_apply(v, p.act);
    }
  }
}
