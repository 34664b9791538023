// concat2.comp - channel concatenation of rows x C1 and rows x C2; one
// invocation an output element (1-D grid).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(std430, set = 0, binding = 0) readonly buffer BufA { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufB { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer BufY { float y[]; };
layout(push_constant) uniform Params { int rows, C1, C2; } p;

void main() {
  int i = int(flat_index());
  int ct = p.C1 + p.C2;
  if (i >= p.rows * ct) return;
  int r = i / ct, c = i % ct;
  y[i] = c < p.C1 ? a[r * p.C1 + c] : b[r * p.C2 + (c - p.C1)];
}
