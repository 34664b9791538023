// gap.comp - global average pooling, one invocation a channel (1-D grid).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(std430, set = 0, binding = 0) readonly buffer BufIn { float inp[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufOut { float outp[]; };
layout(push_constant) uniform Params { int HW, C; } p;

void main() {
  int c = int(flat_index());
  if (c >= p.C) return;
  float sum = 0.0;
  for (int i = 0; i < p.HW; i++) sum += inp[i * p.C + c];
  outp[c] = sum / float(p.HW);
}
