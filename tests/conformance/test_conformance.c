/* test_conformance.c - every op kind of ops/ops.def, over a table of shapes,
 * on every available target of the registry except `ref`, compared with the
 * reference kernels (targets/ref/ref.h), the oracle.
 *
 * Each table entry is a canonical op key. For each target that is available
 * here and whose supports() accepts the op, the suite fills the inputs,
 * weights and bias with seeded random numbers, prepares the op once, then
 * runs it twice (output poisoned with NaN before each run, so a run that
 * writes nothing, accumulates into the output or only works the first time
 * fails) and compares each run's output with oc__ref_compute on the same
 * buffers. It also checks that no run wrote to its inputs.
 *
 * Tolerance, element by element, with r the oracle's value and L the
 * reduction length of one output (k*k*cin/g for conv2d, cin for fc, k for
 * matmul, k*k for pools, h*w for gap, c for layernorm and softmax, 1 for
 * the elementwise ops):
 *
 *     |got - r| <= ATOL * sqrt(L) + RTOL * |r|,  ATOL = 2e-5, RTOL = 1e-4
 *
 * Data are scaled so that every term and every result is O(1) (weights
 * ~ 1/sqrt(fan-in)); a float sum of L such terms in any order is off by
 * about FLT_EPSILON * sqrt(L) typically (1e-7 * sqrt(L)), so ATOL leaves a
 * factor of ~100 for FMA, blocking and reordering, while RTOL (~800 float
 * ulps) absorbs the few-ulp polynomial approximations of exp, tanh and erf
 * that fast kernels use. Anything a real bug produces (a shifted window, a
 * wrong divisor, a missed channel, tanh-GELU instead of erf-GELU, whose
 * error reaches 5e-4) is far larger.
 *
 * The shape table covers odd sizes (7, 13, 127-ish channels), strides 1 and
 * 2, groups 1/2/3/depthwise, k 1/3/5/7, dilation 2, every activation for
 * act, conv2d, fc and add, tb 0/1 and bc 0/1; table_covers_* tests fail
 * when a kind of ops.def, or one of those variants, has no entry. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "opcost/op.h"
#include "opcost/target.h"
#include "targets/ref/ref.h"

#define ATOL 2e-5
#define RTOL 1e-4
#define RUNS 2
#define SEED UINT64_C(0x0c0ffee5eed)

struct conf_case {
  char key[160];
};

/* clang-format off */
static struct conf_case cases[] = {
  /* conv2d: pointwise, full, grouped, depthwise, dilated, every activation */
  {"conv2d.f32 h=7 w=7 cin=3 cout=5 k=3 s=1 g=1 d=1 act=none"},
  {"conv2d.f32 h=13 w=11 cin=8 cout=16 k=3 s=2 g=1 d=1 act=relu"},
  {"conv2d.f32 h=15 w=15 cin=3 cout=16 k=7 s=2 g=1 d=1 act=relu"},
  {"conv2d.f32 h=13 w=13 cin=16 cout=16 k=3 s=1 g=16 d=1 act=relu6"},
  {"conv2d.f32 h=14 w=14 cin=24 cout=24 k=5 s=2 g=24 d=1 act=hswish"},
  {"conv2d.f32 h=9 w=9 cin=12 cout=12 k=7 s=1 g=12 d=1 act=hsigmoid"},
  {"conv2d.f32 h=13 w=7 cin=8 cout=12 k=3 s=1 g=2 d=1 act=sigmoid"},
  {"conv2d.f32 h=11 w=11 cin=6 cout=10 k=3 s=1 g=1 d=2 act=swish"},
  {"conv2d.f32 h=12 w=12 cin=16 cout=8 k=3 s=2 g=1 d=2 act=gelu"},
  {"conv2d.f32 h=7 w=7 cin=127 cout=63 k=1 s=1 g=1 d=1 act=tanh"},
  {"conv2d.f32 h=8 w=8 cin=32 cout=129 k=1 s=2 g=1 d=1 act=relu6"},
  {"conv2d.f32 h=10 w=10 cin=12 cout=18 k=5 s=1 g=3 d=1 act=none"},
  {"conv2d.f32 h=13 w=13 cin=13 cout=13 k=3 s=2 g=13 d=2 act=relu6"},
  {"conv2d.f32 h=1 w=1 cin=64 cout=16 k=1 s=1 g=1 d=1 act=relu"},
  {"conv2d.f32 h=5 w=5 cin=4 cout=4 k=7 s=1 g=1 d=1 act=none"},
  {"conv2d.f32 h=7 w=13 cin=10 cout=6 k=5 s=2 g=2 d=1 act=hswish"},
  /* fc: every activation */
  {"fc.f32 m=1 cin=127 cout=10 act=none"},
  {"fc.f32 m=3 cin=64 cout=33 act=relu"},
  {"fc.f32 m=7 cin=13 cout=129 act=gelu"},
  {"fc.f32 m=1 cin=16 cout=7 act=relu6"},
  {"fc.f32 m=2 cin=9 cout=5 act=hswish"},
  {"fc.f32 m=1 cin=32 cout=13 act=hsigmoid"},
  {"fc.f32 m=5 cin=7 cout=3 act=sigmoid"},
  {"fc.f32 m=1 cin=24 cout=24 act=swish"},
  {"fc.f32 m=13 cin=11 cout=9 act=tanh"},
  /* matmul: tb 0 and 1 */
  {"matmul.f32 b=1 m=7 k=13 n=5 tb=0"},
  {"matmul.f32 b=3 m=13 k=64 n=17 tb=1"},
  {"matmul.f32 b=2 m=1 k=127 n=9 tb=0"},
  {"matmul.f32 b=4 m=16 k=8 n=16 tb=1"},
  /* pools: k 2/3/5/7, stride 1 and 2, windows that hang over the border */
  {"maxpool2d.f32 h=13 w=13 c=7 k=3 s=2"},
  {"maxpool2d.f32 h=7 w=7 c=16 k=2 s=2"},
  {"maxpool2d.f32 h=12 w=11 c=3 k=3 s=1"},
  {"maxpool2d.f32 h=9 w=9 c=5 k=5 s=1"},
  {"maxpool2d.f32 h=8 w=8 c=4 k=7 s=2"},
  {"avgpool2d.f32 h=13 w=13 c=7 k=3 s=2"},
  {"avgpool2d.f32 h=7 w=7 c=16 k=2 s=2"},
  {"avgpool2d.f32 h=12 w=11 c=3 k=3 s=1"},
  {"avgpool2d.f32 h=9 w=9 c=5 k=5 s=1"},
  {"avgpool2d.f32 h=8 w=8 c=4 k=7 s=2"},
  /* gap */
  {"gap.f32 h=7 w=7 c=127"},
  {"gap.f32 h=13 w=1 c=5"},
  {"gap.f32 h=1 w=1 c=3"},
  /* act: every activation */
  {"act.f32 h=7 w=13 c=5 act=relu"},
  {"act.f32 h=7 w=13 c=5 act=relu6"},
  {"act.f32 h=7 w=13 c=5 act=hswish"},
  {"act.f32 h=7 w=13 c=5 act=hsigmoid"},
  {"act.f32 h=7 w=13 c=5 act=sigmoid"},
  {"act.f32 h=7 w=13 c=5 act=swish"},
  {"act.f32 h=7 w=13 c=5 act=gelu"},
  {"act.f32 h=7 w=13 c=5 act=tanh"},
  {"act.f32 h=1 w=1 c=127 act=hswish"},
  /* add: every activation */
  {"add.f32 h=7 w=7 c=13 act=none"},
  {"add.f32 h=7 w=7 c=13 act=relu"},
  {"add.f32 h=7 w=7 c=13 act=relu6"},
  {"add.f32 h=1 w=13 c=9 act=hswish"},
  {"add.f32 h=1 w=13 c=9 act=hsigmoid"},
  {"add.f32 h=1 w=13 c=9 act=sigmoid"},
  {"add.f32 h=3 w=5 c=7 act=swish"},
  {"add.f32 h=3 w=5 c=7 act=gelu"},
  {"add.f32 h=3 w=5 c=7 act=tanh"},
  /* mul: bc 0 and 1 */
  {"mul.f32 h=7 w=7 c=13 bc=0"},
  {"mul.f32 h=7 w=7 c=13 bc=1"},
  {"mul.f32 h=1 w=1 c=127 bc=1"},
  {"mul.f32 h=13 w=3 c=1 bc=0"},
  /* layernorm and softmax over c */
  {"layernorm.f32 h=1 w=13 c=64"},
  {"layernorm.f32 h=7 w=7 c=127"},
  {"layernorm.f32 h=1 w=1 c=5"},
  {"softmax.f32 h=1 w=7 c=10"},
  {"softmax.f32 h=1 w=13 c=127"},
  {"softmax.f32 h=3 w=3 c=1"},
  /* concat */
  {"concat.f32 h=7 w=7 c=3 c2=5"},
  {"concat.f32 h=13 w=1 c=64 c2=1"},
  {"concat.f32 h=1 w=1 c=1 c2=127"},
};
/* clang-format on */

#define N_CASES (sizeof cases / sizeof cases[0])

static struct oc_op parse_case(const char *key) {
  struct oc_op op;
  /* Asserting only on failure keeps --full-stats from reporting thousands
   * of passing assertions (the table tests parse every key many times). */
  if (oc_op_parse(key, &op) != oc_status_ok)
    cr_assert_fail("table key '%s' does not parse: %s", key, oc_errmsg());
  return op;
}

/* ---- data ---------------------------------------------------------------- */

/* The length of the sum behind one output element (see the tolerance). */
static int64_t reduction_length(const struct oc_op *op) {
  switch (op->kind) {
  case oc_op_conv2d: return (int64_t)op->k * op->k * (op->cin / op->g);
  case oc_op_fc: return op->cin;
  case oc_op_matmul: return op->k;
  case oc_op_maxpool2d:
  case oc_op_avgpool2d: return (int64_t)op->k * op->k;
  case oc_op_gap: return (int64_t)op->h * op->w;
  case oc_op_layernorm:
  case oc_op_softmax: return op->c;
  default: return 1;
  }
}

struct buffers {
  struct oc_op op;
  struct oc_op_shapes sh;
  int64_t in_elems[OC_MAX_INPUTS], out_elems;
  float *input[OC_MAX_INPUTS], *input_copy[OC_MAX_INPUTS];
  float *weights, *bias, *expected, *got;
};

static void fill(struct oc__rng *rng, float *x, int64_t n, double lo, double hi) {
  for (int64_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * oc__rng_double(rng));
}

static float *alloc_floats(int64_t n) {
  /* target.h: inputs carry OC_TENSOR_SLACK_BYTES readable bytes past the end. */
  float *p = calloc((size_t)(n > 0 ? n : 1) + OC_TENSOR_SLACK_BYTES / sizeof *p, sizeof *p);
  cr_assert_not_null(p, "out of memory for %lld floats", (long long)n);
  return p;
}

/* Inputs in [-2, 2] (act and add in [-8, 8], so relu6, hswish and hsigmoid
 * meet both of their corners), weights in +-3/sqrt(fan-in) so conv/fc
 * outputs have a standard deviation near 2 and reach the relu6 clamp; a
 * layernorm input gets an offset of 3 so the mean really has to go; matmul's
 * B is scaled by 1/sqrt(k). The seed depends on the key only, so a failure
 * reproduces. */
static void buffers_init(struct buffers *b, const char *key) {
  memset(b, 0, sizeof *b);
  b->op = parse_case(key);
  cr_assert_eq(oc_op_shapes(&b->op, &b->sh), oc_status_ok, "%s", oc_errmsg());
  struct oc__rng rng;
  oc__rng_seed(&rng, oc__hash64_str(SEED, key));
  double range = (b->op.kind == oc_op_act || b->op.kind == oc_op_add) ? 8.0 : 2.0;
  double offset = b->op.kind == oc_op_layernorm ? 3.0 : 0.0;
  for (int i = 0; i < b->sh.n_inputs; i++) {
    b->in_elems[i] = oc_tensor_elems(&b->sh.input[i]);
    b->input[i] = alloc_floats(b->in_elems[i]);
    b->input_copy[i] = alloc_floats(b->in_elems[i]);
    double scale = (b->op.kind == oc_op_matmul && i == 1) ? 1.0 / sqrt((double)b->op.k) : 1.0;
    fill(&rng, b->input[i], b->in_elems[i], (offset - range) * scale, (offset + range) * scale);
    memcpy(b->input_copy[i], b->input[i], (size_t)b->in_elems[i] * sizeof(float));
  }
  if (b->sh.weight_elems > 0) {
    double bound = 1.0;
    if (b->op.kind == oc_op_conv2d || b->op.kind == oc_op_fc)
      bound = 3.0 / sqrt((double)reduction_length(&b->op));
    b->weights = alloc_floats(b->sh.weight_elems);
    b->bias = alloc_floats(b->sh.bias_elems);
    if (b->op.kind == oc_op_layernorm)
      fill(&rng, b->weights, b->sh.weight_elems, 0.5, 1.5); /* gamma */
    else
      fill(&rng, b->weights, b->sh.weight_elems, -bound, bound);
    fill(&rng, b->bias, b->sh.bias_elems, -1.0, 1.0);
  }
  b->out_elems = oc_tensor_elems(&b->sh.output);
  b->expected = alloc_floats(b->out_elems);
  b->got = alloc_floats(b->out_elems);
  struct oc_tensors t = {{b->input[0], b->input[1]}, b->weights, b->bias, b->expected};
  cr_assert_eq(oc__ref_compute(&b->op, &t), oc_status_ok, "ref on '%s': %s", key, oc_errmsg());
  for (int64_t i = 0; i < b->out_elems; i++) {
    if (!isfinite(b->expected[i]))
      cr_assert_fail("ref on '%s': output %lld is %g", key, (long long)i,
                     (double)b->expected[i]);
  }
}

static void buffers_free(struct buffers *b) {
  for (int i = 0; i < OC_MAX_INPUTS; i++) {
    free(b->input[i]);
    free(b->input_copy[i]);
  }
  free(b->weights);
  free(b->bias);
  free(b->expected);
  free(b->got);
}

/* ---- comparison ---------------------------------------------------------- */

/* Compares one run's output with the oracle; on a mismatch, fails naming the
 * key, target, run, the first bad element (flat index and n,h,w,c), got,
 * expected and the tolerance, and how many elements were off. */
static void compare(const struct buffers *b, const char *key, const char *target, int run) {
  const double atol = ATOL * sqrt((double)reduction_length(&b->op));
  const struct oc_tensor_shape *o = &b->sh.output;
  int64_t bad = 0, first = -1;
  double worst = 0.0;
  for (int64_t i = 0; i < b->out_elems; i++) {
    const double r = b->expected[i], g = b->got[i];
    const double diff = fabs(g - r), tol = atol + RTOL * fabs(r);
    if (!(diff <= tol)) { /* also catches NaN */
      if (first < 0) first = i;
      bad++;
    }
    if (diff > worst || isnan(diff)) worst = diff;
  }
  if (bad == 0) {
    cr_log_info("'%s' on %s, run %d: ok, worst |diff| %.3g (tolerance %.3g + %.0e*|r|)", key,
                target, run, worst, atol, RTOL);
    return;
  }
  const int64_t i = first;
  const int64_t c = i % o->c, w = (i / o->c) % o->w, h = (i / o->c / o->w) % o->h,
                n = i / o->c / o->w / o->h;
  const double r = b->expected[i];
  cr_assert_fail("'%s' on %s, run %d: index %lld [n=%lld h=%lld w=%lld c=%lld]: got %.9g, expected "
          "%.9g (tolerance %.3g); %lld of %lld elements off, worst |diff| %.3g",
          key, target, run, (long long)i, (long long)n, (long long)h, (long long)w,
          (long long)c, (double)b->got[i], r, atol + RTOL * fabs(r), (long long)bad,
          (long long)b->out_elems, worst);
}

/* Opens the target by name if it is available; NULL (and why) if not. */
static struct oc_target *open_if_available(const struct oc_target_vtab *v, char *why,
                                           size_t why_len) {
  if (oc_target_available(v, why, why_len) != oc_status_ok) return NULL;
  struct oc_target *t = NULL;
  if (oc_target_open(v->name, NULL, &t) != oc_status_ok) {
    oc__strfmt(why, why_len, "open failed: %s", oc_errmsg());
    return NULL;
  }
  return t;
}

/* Prepares the case once on t and runs it RUNS times, comparing each run. */
static void check_on_target(struct buffers *b, const char *key, struct oc_target *t) {
  const char *name = oc_target_name(t);
  struct oc_tensors tensors = {{b->input[0], b->input[1]}, b->weights, b->bias, b->got};
  struct oc_kernel *k = NULL;
  enum oc_status st = oc_target_prepare(t, &b->op, &tensors, &k);
  cr_assert_eq(st, oc_status_ok, "'%s' on %s: supported but prepare failed: %s", key, name,
               oc_errmsg());
  for (int run = 1; run <= RUNS; run++) {
    for (int64_t i = 0; i < b->out_elems; i++) b->got[i] = NAN;
    st = oc_target_run(t, k);
    if (st == oc_status_ok) st = oc_target_read_output(t, k);
    cr_assert_eq(st, oc_status_ok, "'%s' on %s, run %d: %s", key, name, run, oc_errmsg());
    compare(b, key, name, run);
    for (int i = 0; i < b->sh.n_inputs; i++)
      cr_assert(memcmp(b->input[i], b->input_copy[i], (size_t)b->in_elems[i] * sizeof(float)) ==
                    0,
                "'%s' on %s, run %d: input %d was modified", key, name, run, i);
  }
  oc_target_release(t, k);
}

ParameterizedTestParameters(conformance, op) {
  return cr_make_param_array(struct conf_case, cases, N_CASES);
}

ParameterizedTest(struct conf_case *param, conformance, op) {
  struct buffers b;
  buffers_init(&b, param->key);
  int compared = 0, skipped = 0;
  for (size_t i = 0; i < oc_target_count(); i++) {
    const struct oc_target_vtab *v = oc_target_at(i);
    if (strcmp(v->name, "ref") == 0) continue;
    char why[512] = "";
    struct oc_target *t = open_if_available(v, why, sizeof why);
    if (t == NULL) {
      skipped++;
      continue;
    }
    if (!oc_target_supports(t, &b.op, why, sizeof why)) {
      cr_log_info("'%s': %s skipped: %s", param->key, v->name, why);
      skipped++;
    } else {
      check_on_target(&b, param->key, t);
      compared++;
    }
    oc_target_close(t);
  }
  cr_log_info("'%s': compared on %d target(s), skipped %d", param->key, compared, skipped);
  buffers_free(&b);
}

/* ---- coverage of the table and of the targets ---------------------------- */

static bool table_has(bool (*match)(const struct oc_op *, int), int arg) {
  static struct oc_op parsed[N_CASES];
  static bool ready;
  if (!ready) {
    for (size_t i = 0; i < N_CASES; i++) parsed[i] = parse_case(cases[i].key);
    ready = true;
  }
  for (size_t i = 0; i < N_CASES; i++) {
    if (match(&parsed[i], arg)) return true;
  }
  return false;
}

static bool is_kind(const struct oc_op *op, int kind) { return op->kind == (enum oc_op_kind)kind; }

Test(conformance, table_covers_every_kind) {
  for (int k = 0; k < oc_op_kind__count; k++)
    cr_expect(table_has(is_kind, k), "op kind '%s' of ops.def has no entry in the shape table",
              oc_op_kind_name((enum oc_op_kind)k));
}

/* code = kind * 16 + act: one int argument for table_has */
static bool match_act(const struct oc_op *op, int code) {
  return op->kind == (enum oc_op_kind)(code / 16) && op->act == (enum oc_act)(code % 16);
}

Test(conformance, table_covers_every_activation) {
  const enum oc_op_kind kinds[] = {oc_op_conv2d, oc_op_fc, oc_op_add, oc_op_act};
  cr_assert(oc_act__count <= 16);
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    for (int a = kinds[i] == oc_op_act ? 1 : 0; a < oc_act__count; a++)
      cr_expect(table_has(match_act, (int)kinds[i] * 16 + a), "%s has no entry with act=%s",
                oc_op_kind_name(kinds[i]), oc_act_name((enum oc_act)a));
  }
}

static bool conv_stride(const struct oc_op *op, int s) {
  return op->kind == oc_op_conv2d && op->s == s;
}
static bool pool_stride(const struct oc_op *op, int s) {
  return (op->kind == oc_op_maxpool2d || op->kind == oc_op_avgpool2d) && op->s == s;
}
static bool conv_k(const struct oc_op *op, int k) { return op->kind == oc_op_conv2d && op->k == k; }
static bool conv_d(const struct oc_op *op, int d) { return op->kind == oc_op_conv2d && op->d == d; }
/* kind_of_groups 0 = depthwise (g = cin = cout > 1), else exactly that g */
static bool conv_groups(const struct oc_op *op, int kind_of_groups) {
  if (op->kind != oc_op_conv2d) return false;
  bool depthwise = op->g == op->cin && op->g == op->cout && op->g > 1;
  if (kind_of_groups == 0) return depthwise;
  return !depthwise && op->g == kind_of_groups;
}
static bool odd_channels(const struct oc_op *op, int at_least) {
  int32_t c = op->kind == oc_op_conv2d || op->kind == oc_op_fc ? op->cin : op->c;
  return c >= at_least && c % 2 == 1;
}
static bool matmul_tb(const struct oc_op *op, int tb) {
  return op->kind == oc_op_matmul && op->tb == tb;
}
static bool mul_bc(const struct oc_op *op, int bc) { return op->kind == oc_op_mul && op->bc == bc; }

Test(conformance, table_covers_shape_variants) {
  for (int s = 1; s <= 2; s++) {
    cr_expect(table_has(conv_stride, s), "no conv2d with s=%d", s);
    cr_expect(table_has(pool_stride, s), "no pool with s=%d", s);
  }
  const int ks[] = {1, 3, 5, 7};
  for (size_t i = 0; i < 4; i++) cr_expect(table_has(conv_k, ks[i]), "no conv2d with k=%d", ks[i]);
  cr_expect(table_has(conv_d, 2), "no conv2d with d=2");
  cr_expect(table_has(conv_groups, 0), "no depthwise conv2d");
  cr_expect(table_has(conv_groups, 1), "no conv2d with g=1");
  cr_expect(table_has(conv_groups, 2), "no grouped conv2d with g=2");
  cr_expect(table_has(odd_channels, 127), "no entry with 127 or more odd channels");
  for (int v = 0; v <= 1; v++) {
    cr_expect(table_has(matmul_tb, v), "no matmul with tb=%d", v);
    cr_expect(table_has(mul_bc, v), "no mul with bc=%d", v);
  }
}

/* The parameterized cases run in separate processes, so this test counts on
 * its own: for each kind, the (target, entry) pairs an available non-ref
 * target supports. A supported pair is one the parameterized test prepares,
 * runs and compares (it fails when prepare refuses a supported op), so a
 * count above zero means the kind was really compared. */
Test(conformance, every_kind_compared_by_a_target) {
  const struct oc_target_vtab *cpu = oc_target_find("cpu");
  char why[512] = "";
  if (cpu == NULL || oc_target_available(cpu, why, sizeof why) != oc_status_ok)
    cr_skip_test("target 'cpu' is not available here: %s", cpu ? why : "not built in");
  int compared[oc_op_kind__count] = {0}, skipped[oc_op_kind__count] = {0};
  for (size_t i = 0; i < oc_target_count(); i++) {
    const struct oc_target_vtab *v = oc_target_at(i);
    if (strcmp(v->name, "ref") == 0) continue;
    struct oc_target *t = open_if_available(v, why, sizeof why);
    for (size_t c = 0; c < N_CASES; c++) {
      struct oc_op op = parse_case(cases[c].key);
      if (t != NULL && oc_target_supports(t, &op, why, sizeof why))
        compared[op.kind]++;
      else
        skipped[op.kind]++;
    }
    oc_target_close(t);
  }
  for (int k = 0; k < oc_op_kind__count; k++) {
    cr_log_info("%-10s compared %d, skipped %d (target x entry)", oc_op_kind_name((enum oc_op_kind)k),
                compared[k], skipped[k]);
    cr_expect(compared[k] > 0, "op kind '%s': no non-ref target compared any entry (%d skipped)",
              oc_op_kind_name((enum oc_op_kind)k), skipped[k]);
  }
}
