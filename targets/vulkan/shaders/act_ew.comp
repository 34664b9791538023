// act_ew.comp - y = act(x) elementwise (1-D grid).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(std430, set = 0, binding = 0) readonly buffer BufX { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufY { float y[]; };
layout(push_constant) uniform Params { int n, act; } p;

void main() {
  int i = int(flat_index());
  if (i < p.n) y[i] = act_apply(x[i], p.act);
}
