// softmax_rows.comp - softmax over C at each of rows positions: one
// work-group of L invocations (a power of two; specialization constants 0
// and 3) a row, work-groups on a 2-D grid.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(constant_id = 3) const uint L = 64;
layout(std430, set = 0, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufY { float y[]; };
layout(push_constant) uniform Params { int rows, C; } p;
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
  if (r >= p.rows) return; // whole groups: barriers stay uniform
  int l = int(gl_LocalInvocationID.x), base = r * p.C;
  float m = -3.402823466e38;
  for (int c = l; c < p.C; c += int(L)) m = max(m, x[base + c]);
  m = group_max(m);
  float s = 0.0;
  for (int c = l; c < p.C; c += int(L)) s += exp(x[base + c] - m);
  s = group_sum(s);
  float inv = 1.0 / s;
  for (int c = l; c < p.C; c += int(L)) y[base + c] = exp(x[base + c] - m) * inv;
}
