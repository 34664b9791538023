// copy4.comp - device characterization: a vec4 copy of n4 elements.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(std430, set = 0, binding = 0) readonly buffer BufSrc { vec4 src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufDst { vec4 dst[]; };
layout(push_constant) uniform Params { int n4; } p;

void main() {
  int i = int(flat_index());
  if (i < p.n4) dst[i] = src[i];
}
