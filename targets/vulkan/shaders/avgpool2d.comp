// avgpool2d.comp - mean over the real pixels of the window; same padding never leaves a window
// without a real pixel. Grid (C, OW, OH) invocations.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(std430, set = 0, binding = 0) readonly buffer BufIn { float inp[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufOut { float outp[]; };
layout(push_constant) uniform Params { int H, W, C, K, S, OH, OW, pt, pl; } p;

void main() {
  int c = int(gl_GlobalInvocationID.x), ox = int(gl_GlobalInvocationID.y);
  int oy = int(gl_GlobalInvocationID.z);
  if (c >= p.C || ox >= p.OW || oy >= p.OH) return;
  float m = 0.0; int count = 0;
  for (int ky = 0; ky < p.K; ky++) {
    int iy = oy * p.S - p.pt + ky;
    if (iy < 0 || iy >= p.H) continue;
    for (int kx = 0; kx < p.K; kx++) {
      int ix = ox * p.S - p.pl + kx;
      if (ix < 0 || ix >= p.W) continue;
      float v = inp[(iy * p.W + ix) * p.C + c];
      m += v; count++;
    }
  }
  outp[(oy * p.OW + ox) * p.C + c] = m / float(count);
}
