/* test_attention.c — the vectorised attention computes exactly what the plain loops do.
 *
 * tensor.c's attention works on transposed copies of the keys and values and
 * runs 8 or 32 positions side by side in vector lanes, but every element is
 * still the same sum in the same order as in the plain loops below (the
 * attention of the first version of tensor.c, kept here as the reference),
 * each step the same muladd (gemm.h: fused where the CPU has FMA).
 * So the two must agree BIT FOR BIT (memcmp), forward and backward, whatever
 * the thread count: that is what lets the vectorised code replace the plain
 * one without changing a single number training prints. The backward's
 * gradients start from non-zero values, so its += is compared too.
 *
 * Shapes: T = 1 (one position), T not a multiple of 8 or 32, head sizes
 * 4, 12 and 32 (not all multiples of the 8-float vector).
 */
#include "testutil.h"
#include "gemm.h"
#include "tensor.h"
#include "util.h"

/* ---- the reference: plain loops over (b, t, h) and (b, h, t) ---- */

static void ref_attention_forward(float *out, float *preatt, float *att, const float *inp,
                                  int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const float *q = inp + ((size_t)b * T + t) * C3 + h * hs;
                float *pre = preatt + (((size_t)b * NH + h) * T + t) * T;
                float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float maxv = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = inp + ((size_t)b * T + t2) * C3 + C + h * hs;
                    float s = 0.0f;
                    for (int i = 0; i < hs; i++) s = muladd(q[i], k[i], s);
                    s *= scale;
                    pre[t2] = s;
                    if (s > maxv) maxv = s;
                }
                for (int t2 = 0; t2 <= t; t2++) a[t2] = tensor_expf(pre[t2] - maxv);
                float sum = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) sum += a[t2];
                for (int t2 = 0; t2 <= t; t2++) a[t2] /= sum;
                for (int t2 = t + 1; t2 < T; t2++) a[t2] = pre[t2] = 0.0f;
                float *o = out + ((size_t)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = inp + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    for (int i = 0; i < hs; i++) o[i] = muladd(a[t2], v[i], o[i]);
                }
            }
}

static void ref_attention_backward(float *dinp, float *dpreatt, float *datt, const float *dout,
                                   const float *inp, const float *att, int B, int T, int C, int NH) {
    int hs = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *a = att + (((size_t)b * NH + h) * T + t) * T;
                float *da = datt + (((size_t)b * NH + h) * T + t) * T;
                float *dpre = dpreatt + (((size_t)b * NH + h) * T + t) * T;
                const float *d = dout + ((size_t)b * T + t) * C + h * hs;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *v = inp + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    float *dv = dinp + ((size_t)b * T + t2) * C3 + 2 * C + h * hs;
                    float s = 0.0f;
                    for (int i = 0; i < hs; i++) {
                        s = muladd(d[i], v[i], s);
                        dv[i] = muladd(a[t2], d[i], dv[i]);
                    }
                    da[t2] = s;
                }
                float dot = 0.0f;
                for (int t2 = 0; t2 <= t; t2++) dot += a[t2] * da[t2];
                for (int t2 = 0; t2 <= t; t2++) dpre[t2] = a[t2] * (da[t2] - dot);
                const float *q = inp + ((size_t)b * T + t) * C3 + h * hs;
                float *dq = dinp + ((size_t)b * T + t) * C3 + h * hs;
                for (int t2 = 0; t2 <= t; t2++) {
                    const float *k = inp + ((size_t)b * T + t2) * C3 + C + h * hs;
                    float *dk = dinp + ((size_t)b * T + t2) * C3 + C + h * hs;
                    float g = scale * dpre[t2];
                    for (int i = 0; i < hs; i++) {
                        dq[i] = muladd(g, k[i], dq[i]);
                        dk[i] = muladd(g, q[i], dk[i]);
                    }
                }
            }
}

/* ---- the comparison ---- */

static void assert_same_bits(const char *what, const float *got, const float *want, size_t n,
                             int T, int C, int NH, int threads) {
    if (memcmp(got, want, n * sizeof(float)) == 0) return;
    size_t i = 0;
    while (memcmp(got + i, want + i, sizeof(float)) == 0) i++;
    fail_msg("attention %s T=%d C=%d NH=%d threads=%d differs at %zu: %.9g vs %.9g", what, T, C,
             NH, threads, i, got[i], want[i]);
}

static void compare_with_plain_loops(int B, int T, int C, int NH, int threads) {
    size_t nin = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
    float *inp = random_floats(nin, -2, 2), *dout = random_floats(nout, -1, 1);
    float *out = random_floats(nout, -9, 9), *ref_out = random_floats(nout, -9, 9);
    float *pre = random_floats(natt, -9, 9), *ref_pre = random_floats(natt, -9, 9);
    float *att = random_floats(natt, -9, 9), *ref_att = random_floats(natt, -9, 9);
    float *dinp = random_floats(nin, -1, 1), *ref_dinp = copy_floats(dinp, nin);
    float *dpre = random_floats(natt, -9, 9), *ref_dpre = random_floats(natt, -9, 9);
    float *datt = random_floats(natt, -9, 9), *ref_datt = random_floats(natt, -9, 9);
    int saved = get_threads();
    set_threads(threads);
    attention_forward(out, pre, att, inp, B, T, C, NH);
    attention_backward(dinp, dpre, datt, dout, inp, att, B, T, C, NH);
    set_threads(saved);
    ref_attention_forward(ref_out, ref_pre, ref_att, inp, B, T, C, NH);
    ref_attention_backward(ref_dinp, ref_dpre, ref_datt, dout, inp, ref_att, B, T, C, NH);
    assert_same_bits("out", out, ref_out, nout, T, C, NH, threads);
    assert_same_bits("preatt", pre, ref_pre, natt, T, C, NH, threads);
    assert_same_bits("att", att, ref_att, natt, T, C, NH, threads);
    assert_same_bits("dinp", dinp, ref_dinp, nin, T, C, NH, threads);
    /* only the causal part of the scratch rows (t2 <= t) is defined */
    for (int r = 0; r < B * NH * T; r++) {
        int t = r % T;
        assert_same_bits("datt", datt + (size_t)r * T, ref_datt + (size_t)r * T, (size_t)t + 1, T, C, NH, threads);
        assert_same_bits("dpreatt", dpre + (size_t)r * T, ref_dpre + (size_t)r * T, (size_t)t + 1, T, C, NH, threads);
    }
    free(inp); free(dout); free(out); free(ref_out); free(pre); free(ref_pre); free(att);
    free(ref_att); free(dinp); free(ref_dinp); free(dpre); free(ref_dpre); free(datt); free(ref_datt);
}

static const int shapes[][4] = {  /* B, T, C, NH */
    {1, 1, 8, 2}, {2, 5, 8, 2}, {2, 33, 48, 4}, {1, 70, 96, 3}, {2, 128, 64, 2},
};

static void test_attention_equals_plain_loops_bit_for_bit_on_one_thread(void **state) {
    (void)state;
    test_seed(1201);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        compare_with_plain_loops(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], 1);
}

static void test_attention_equals_plain_loops_bit_for_bit_on_two_threads(void **state) {
    (void)state;
    test_seed(1202);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        compare_with_plain_loops(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_equals_plain_loops_bit_for_bit_on_one_thread),
        cmocka_unit_test(test_attention_equals_plain_loops_bit_for_bit_on_two_threads),
    };
    return cmocka_run_group_tests_name("attention", tests, NULL, NULL);
}
