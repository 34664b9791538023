// conv2d_direct.comp - 2-D convolution, one invocation per output element:
// same padding (pt, pl), stride S, dilation D, G groups; weights
// [Cout][K][K][Cin/G]. Grid (Cout, OW, OH) invocations.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"

layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;
layout(std430, set = 0, binding = 0) readonly buffer BufIn { float inp[]; };
layout(std430, set = 0, binding = 1) readonly buffer BufW { float w[]; };
layout(std430, set = 0, binding = 2) readonly buffer BufBias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer BufOut { float outp[]; };
layout(push_constant) uniform Params {
  int H, W, Cin, Cout, K, S, D, G, OH, OW, pt, pl, act;
} p;

void main() {
  int o = int(gl_GlobalInvocationID.x), ox = int(gl_GlobalInvocationID.y);
  int oy = int(gl_GlobalInvocationID.z);
  if (o >= p.Cout || ox >= p.OW || oy >= p.OH) return;
  int cin_g = p.Cin / p.G, cout_g = p.Cout / p.G;
  int c0 = (o / cout_g) * cin_g;
  float acc = bias[o];
  for (int ky = 0; ky < p.K; ky++) {
    int iy = oy * p.S - p.pt + ky * p.D;
    if (iy < 0 || iy >= p.H) continue;
    for (int kx = 0; kx < p.K; kx++) {
      int ix = ox * p.S - p.pl + kx * p.D;
      if (ix < 0 || ix >= p.W) continue;
      int ip = (iy * p.W + ix) * p.Cin + c0;
      int wp = ((o * p.K + ky) * p.K + kx) * cin_g;
      for (int i = 0; i < cin_g; i++) acc = fma(inp[ip + i], w[wp + i], acc);
    }
  }
  outp[(oy * p.OW + ox) * p.Cout + o] = act_apply(acc, p.act);
}
