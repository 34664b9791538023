// layernorm_rows.comp - layer normalisation over C at each of rows
// positions, two passes (mean, then the mean square of x - mean), then
// * gamma + beta. One work-group of L invocations a row, as softmax_rows.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(constant_id = 3) const uint L = 64;
layout(std430, set = 0, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufG { float gamma[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufB { float beta[]; };
layout(std430, set = 0, binding = 3) writeonly buffer BufY { float y[]; };
layout(push_constant) uniform Params { int rows, C; float eps; } p;
shared float scratch[L];

float group_sum(float v) {
  uint l = gl_LocalInvocationID.x;
  scratch[l] = v;
  memoryBarrierShared();
  barrier();
  for (uint step = L / 2u; step > 0u; step /= 2u) {
    if (l < step) scratch[l] += scratch[l + step];
    memoryBarrierShared();
    barrier();
  }
  float total = scratch[0];
  barrier();
  return total;
}

float group_max(float v) {
  uint l = gl_LocalInvocationID.x;
  scratch[l] = v;
  memoryBarrierShared();
  barrier();
  for (uint step = L / 2u; step > 0u; step /= 2u) {
    if (l < step) scratch[l] = max(scratch[l], scratch[l + step]);
    memoryBarrierShared();
    barrier();
  }
  float total = scratch[0];
  barrier();
  return total;
}

void main() {
  int r = int(flat_group());
  if (r >= p.rows) return;
  int l = int(gl_LocalInvocationID.x), base = r * p.C;
  float s = 0.0;
  for (int c = l; c < p.C; c += int(L)) s += x[base + c];
  float mean = group_sum(s) / float(p.C);
  float q = 0.0;
  for (int c = l; c < p.C; c += int(L)) {
    float d = x[base + c] - mean;
    q = fma(d, d, q);
  }
  float var = group_sum(q) / float(p.C);
  float inv = 1.0 / sqrt(var + p.eps);
  for (int c = l; c < p.C; c += int(L))
    y[base + c] = (x[base + c] - mean) * inv * gamma[c] + beta[c];
}
