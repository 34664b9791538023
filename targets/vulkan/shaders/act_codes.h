/* act_codes.h - activation codes shared by the compute shaders (common.glsl)
 * and the host (vulkan_plan.c maps enum oc_act onto them by name). Plain
 * #defines only: this file is read by both the C and the GLSL preprocessor. */
#ifndef OPCOST_VK_ACT_CODES_H
#define OPCOST_VK_ACT_CODES_H
#define VK_ACT_NONE 0
#define VK_ACT_RELU 1
#define VK_ACT_RELU6 2
#define VK_ACT_HSWISH 3
#define VK_ACT_HSIGMOID 4
#define VK_ACT_SIGMOID 5
#define VK_ACT_SWISH 6
#define VK_ACT_GELU 7
#define VK_ACT_TANH 8
#endif
