// conv2d_dw.comp - depthwise convolution (G = Cin = Cout), weights [C][K][K].
// Grid (C, OW, OH) invocations.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(std430, set = 0, binding = 0) readonly buffer BufIn { float inp[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufW { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufBias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer BufOut { float outp[]; };
layout(push_constant) uniform Params { int H, W, C, K, S, D, OH, OW, pt, pl, act; } p;

void main() {
  int c = int(gl_GlobalInvocationID.x), ox = int(gl_GlobalInvocationID.y);
  int oy = int(gl_GlobalInvocationID.z);
  if (c >= p.C || ox >= p.OW || oy >= p.OH) return;
  float acc = bias[c];
  for (int ky = 0; ky < p.K; ky++) {
    int iy = oy * p.S - p.pt + ky * p.D;
    if (iy < 0 || iy >= p.H) continue;
    for (int kx = 0; kx < p.K; kx++) {
      int ix = ox * p.S - p.pl + kx * p.D;
      if (ix < 0 || ix >= p.W) continue;
      acc = fma(inp[(iy * p.W + ix) * p.C + c], w[(c * p.K + ky) * p.K + kx], acc);
    }
  }
  outp[(oy * p.OW + ox) * p.C + c] = act_apply(acc, p.act);
}
