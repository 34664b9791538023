// common.glsl - what every compute shader of the vulkan target shares: the
// fused activations (codes of act_codes.h), erf (GLSL has none), and the flat
// index of 1-D work laid out on a 2-D grid of work-groups (a dimension holds
// at most maxComputeWorkGroupCount groups, often 65535).
//
// Conventions (vulkan_plan.c relies on them): tensors are dense NHWC float
// buffers; set 0 holds up to four storage buffers, bound in the order each
// shader lists them; push constants carry the sizes; local sizes are
// specialization constants 0, 1, 2 (and 3 sizes shared memory where a shader
// uses it), so the tuner picks them without recompiling. Global sizes are
// rounded up to whole work-groups, so every shader checks its bounds.
#include "act_codes.h"

float relu6f(float x) { return clamp(x, 0.0, 6.0); }

// Abramowitz and Stegun 7.1.26: |error| <= 1.5e-7 over the real line.
float erf_as(float x) {
  float a = abs(x);
  float t = 1.0 / (1.0 + 0.3275911 * a);
  float poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 +
               t * (-1.453152027 + t * 1.061405429))));
  float r = 1.0 - poly * exp(-a * a);
  return x < 0.0 ? -r : r;
}

// tanh from exp of a clamped argument: no inf/inf for large |x|.
float tanh_safe(float x) {
  float c = clamp(x, -15.0, 15.0);
  float e = exp(2.0 * c);
  return (e - 1.0) / (e + 1.0);
}

float act_apply(float x, int act) {
  switch (act) {
  case VK_ACT_RELU: return max(x, 0.0);
  case VK_ACT_RELU6: return relu6f(x);
  case VK_ACT_HSWISH: return x * relu6f(x + 3.0) / 6.0;
  case VK_ACT_HSIGMOID: return relu6f(x + 3.0) / 6.0;
  case VK_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
  case VK_ACT_SWISH: return x / (1.0 + exp(-x));
  case VK_ACT_GELU: return 0.5 * x * (1.0 + erf_as(x * 0.70710678118654752));
  case VK_ACT_TANH: return tanh_safe(x);
  default: return x;
  }
}

uint flat_index() {
  return gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x +
         gl_GlobalInvocationID.x;
}

uint flat_group() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }
