// peak_fma.comp - device characterization: 8 independent vec4 FMA chains,
// iters times (64 FLOPs an iteration); the result depends on every chain.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(std430, set = 0, binding = 0) writeonly buffer BufOut { float outp[]; };
layout(push_constant) uniform Params { float a; int iters; } p;

void main() {
  uint i = flat_index();
  vec4 m = vec4(p.a, p.a * 0.5, p.a * 0.25, p.a * 0.125);
  vec4 x0 = vec4(float(i)), x1 = x0 + 1.0, x2 = x0 + 2.0, x3 = x0 + 3.0;
  vec4 x4 = x0 + 4.0, x5 = x0 + 5.0, x6 = x0 + 6.0, x7 = x0 + 7.0;
  for (int it = 0; it < p.iters; it++) {
    x0 = fma(x0, m, m); x1 = fma(x1, m, m); x2 = fma(x2, m, m); x3 = fma(x3, m, m);
    x4 = fma(x4, m, m); x5 = fma(x5, m, m); x6 = fma(x6, m, m); x7 = fma(x7, m, m);
  }
  vec4 s = ((x0 + x1) + (x2 + x3)) + ((x4 + x5) + (x6 + x7));
  outp[i] = s.x + s.y + s.z + s.w;
}
