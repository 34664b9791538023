// mul_ew.comp - y = a * b elementwise; bc = 1: b is a per-channel vector of
// C (squeeze-excite). 1-D grid.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(std430, set = 0, binding = 0) readonly buffer BufA { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer BufY { float y[]; };
layout(push_constant) uniform Params { int n, C, bc; } p;

void main() {
  int i = int(flat_index());
  if (i < p.n) y[i] = a[i] * b[p.bc != 0 ? i % p.C : i];
}
