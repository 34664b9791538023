// im2col.comp - column matrix of a G = 1 convolution: col[p][(ky*K+kx)*Cin+ci]
// for output pixel p, zero where the window leaves the image (the row order
// of the weights [Cout][K][K][Cin], so the product is col x weights^T).
// Grid (K*K*Cin, OH*OW) invocations.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(std430, set = 0, binding = 0) readonly buffer BufIn { float inp[]; };
layout(std430, set = 0, binding = 1) writeonly buffer BufCol { float col[]; };
layout(push_constant) uniform Params { int H, W, Cin, K, S, D, OH, OW, pt, pl; } p;

void main() {
  int kd = p.K * p.K * p.Cin;
  int r = int(gl_GlobalInvocationID.x), px = int(gl_GlobalInvocationID.y);
  if (r >= kd || px >= p.OH * p.OW) return;
  int ci = r % p.Cin, kx = (r / p.Cin) % p.K, ky = r / (p.Cin * p.K);
  int oy = px / p.OW, ox = px % p.OW;
  int iy = oy * p.S - p.pt + ky * p.D, ix = ox * p.S - p.pl + kx * p.D;
  float v = 0.0;
  if (iy >= 0 && iy < p.H && ix >= 0 && ix < p.W) v = inp[(iy * p.W + ix) * p.Cin + ci];
  col[px * kd + r] = v;
}
