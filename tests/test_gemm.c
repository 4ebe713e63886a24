/* test_gemm.c — the fast matmul kernels compute exactly what the naive loops do.
 *
 * gemm.c promises more than closeness: every output element gets its products
 * added in the same order as in tensor.c's triple loops (k = 0, 1, ..., K-1,
 * starting from the bias, from 0, or from the gradient already there), with
 * no fused multiply-add. So the packed kernel, the direct kernel and the naive
 * loops must agree BIT FOR BIT (memcmp), at any shape and thread count. That
 * is what lets the packed kernel replace the old one without changing a single
 * number that training prints.
 *
 * The shapes are awkward on purpose: sizes that are not multiples of the
 * micro-tile (MR x NR: 6..12 x 8..32), of the blocks (MC, NC) or of the k
 * slice (KC = 256: K = 257, 300, 600), single rows, single columns, K = 1,
 * and two whose packed B is too big for one pass over k (the forward of
 * 20 x 700 x 400, the dweight of 600 x 500 x 7).
 */
#include "testutil.h"
#include "gemm.h"
#include "tensor.h"
#include "util.h"

static const int shapes[][3] = {  /* N, C, OC */
    {1, 1, 1},    {1, 19, 23},   {7, 13, 5},    {9, 1, 33},    {37, 19, 23}, {13, 300, 37},
    {50, 257, 65}, {64, 64, 64}, {130, 96, 200}, {200, 600, 17}, {97, 192, 576},
    {20, 700, 400}, {600, 500, 7},  /* packed B past B_IN_L2_FLOATS: k in KC passes */
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

/* Fails unless the two arrays hold the same bits. */
static void assert_same_bits(const char *what, int N, int C, int OC, const float *got,
                             const float *want, size_t n) {
    if (memcmp(got, want, n * sizeof(float)) == 0) return;
    size_t i = 0;
    while (memcmp(got + i, want + i, sizeof(float)) == 0) i++;
    fail_msg("%s N=%d C=%d OC=%d differs at %zu: %.9g vs %.9g", what, N, C, OC, i, got[i], want[i]);
}

/* matmul_forward/backward (the packed kernel above a few rows, the direct one
 * below) against the naive loops, on one shape, with the given thread count. */
static void compare_with_naive(int N, int C, int OC, int threads) {
    size_t nin = (size_t)N * C, nw = (size_t)OC * C, nout = (size_t)N * OC;
    float *inp = random_floats(nin, -1, 1), *weight = random_floats(nw, -1, 1);
    float *bias = random_floats(OC, -1, 1), *dout = random_floats(nout, -1, 1);
    float *out = random_floats(nout, -9, 9), *want = random_floats(nout, -9, 9);
    int saved = get_threads();
    set_threads(threads);
    for (int with_bias = 0; with_bias <= 1; with_bias++) {
        matmul_forward(out, inp, weight, with_bias ? bias : NULL, N, C, OC);
        matmul_forward_naive(want, inp, weight, with_bias ? bias : NULL, N, C, OC);
        assert_same_bits(with_bias ? "forward" : "forward without bias", N, C, OC, out, want, nout);
    }
    /* both start from the same non-zero gradients, so += is compared too */
    float *dinp = random_floats(nin, -1, 1), *dinp_want = copy_floats(dinp, nin);
    float *dw = random_floats(nw, -1, 1), *dw_want = copy_floats(dw, nw);
    matmul_backward(dinp, dw, NULL, dout, inp, weight, N, C, OC);
    matmul_backward_naive(dinp_want, dw_want, NULL, dout, inp, weight, N, C, OC);
    set_threads(saved);
    assert_same_bits("dinp", N, C, OC, dinp, dinp_want, nin);
    assert_same_bits("dweight", N, C, OC, dw, dw_want, nw);
    free(inp); free(weight); free(bias); free(dout); free(out); free(want);
    free(dinp); free(dinp_want); free(dw); free(dw_want);
}

static void test_matmul_equals_naive_loops_bit_for_bit_on_one_thread(void **state) {
    (void)state;
    test_seed(1101);
    for (int s = 0; s < NSHAPES; s++) compare_with_naive(shapes[s][0], shapes[s][1], shapes[s][2], 1);
}

static void test_matmul_equals_naive_loops_bit_for_bit_on_two_threads(void **state) {
    (void)state;
    test_seed(1102);
    for (int s = 0; s < NSHAPES; s++) compare_with_naive(shapes[s][0], shapes[s][1], shapes[s][2], 2);
}

/* The kernels called directly, on all three operand layouts of a linear layer
 * (A plain or transposed, B plain or transposed), packed against direct. The
 * direct kernel needs B with unit column stride, so the transposed-B case
 * hands it an explicit transpose. */
static void compare_packed_and_direct(int M, int Nc, int K, int threads) {
    size_t nd = (size_t)M * Nc;
    float *A = random_floats((size_t)M * K, -1, 1), *B = random_floats((size_t)K * Nc, -1, 1);
    float *At = malloc_or_die(sizeof(float) * (size_t)M * K, "A^T");
    float *Bt = malloc_or_die(sizeof(float) * (size_t)K * Nc, "B^T");
    transpose(At, A, M, K);   /* At (K,M) */
    transpose(Bt, B, K, Nc);  /* Bt (Nc,K) */
    float *bias = random_floats((size_t)Nc, -1, 1), *start = random_floats(nd, -1, 1);
    float *packed = copy_floats(start, nd), *direct = copy_floats(start, nd);
    int saved = get_threads();
    set_threads(threads);
    for (int layout = 0; layout < 4; layout++) {
        int a_t = layout & 1, b_t = layout >> 1, acc = layout == 3;
        memcpy(packed, start, nd * sizeof(float));
        memcpy(direct, start, nd * sizeof(float));
        const float *a = a_t ? At : A;
        size_t ars = a_t ? 1 : (size_t)K, acs = a_t ? (size_t)M : 1;
        gemm_packed(packed, a, ars, acs, b_t ? Bt : B, b_t ? 1 : (size_t)Nc, b_t ? (size_t)K : 1,
                    M, Nc, K, acc ? NULL : bias, acc);
        gemm_direct(direct, a, ars, acs, B, (size_t)Nc, M, Nc, K, acc ? NULL : bias, acc);
        assert_same_bits(a_t ? (b_t ? "packed vs direct, A^T B^T" : "packed vs direct, A^T B")
                             : (b_t ? "packed vs direct, A B^T" : "packed vs direct, A B"),
                         M, K, Nc, packed, direct, nd);
    }
    set_threads(saved);
    free(A); free(B); free(At); free(Bt); free(bias); free(start); free(packed); free(direct);
}

static void test_packed_kernel_equals_direct_kernel_bit_for_bit(void **state) {
    (void)state;
    test_seed(1103);
    for (int threads = 1; threads <= 2; threads++)
        for (int s = 0; s < NSHAPES; s++)
            compare_packed_and_direct(shapes[s][0], shapes[s][2], shapes[s][1], threads);
}

/* K = 0 is an empty sum: the output is the bias (or 0), or left as it was. */
static void test_packed_kernel_with_empty_inner_dimension_gives_the_start_values(void **state) {
    (void)state;
    float D[6] = {5, 5, 5, 5, 5, 5}, bias[3] = {1, 2, 3}, dummy = 0.0f;
    gemm_packed(D, &dummy, 0, 1, &dummy, 3, 1, 2, 3, 0, bias, 0);
    for (int i = 0; i < 6; i++) assert_true(D[i] == bias[i % 3]);
    gemm_packed(D, &dummy, 0, 1, &dummy, 3, 1, 2, 3, 0, NULL, 1);
    for (int i = 0; i < 6; i++) assert_true(D[i] == bias[i % 3]);
    gemm_packed(D, &dummy, 0, 1, &dummy, 3, 1, 2, 3, 0, NULL, 0);
    for (int i = 0; i < 6; i++) assert_true(D[i] == 0.0f);
}

/* The packing buffers are kept between calls and grown when a bigger product
 * comes; a smaller product after a bigger one, and a product after
 * gemm_release, must still be exact. */
static void test_packed_kernel_is_exact_after_its_buffers_grow_shrink_and_are_released(void **state) {
    (void)state;
    test_seed(1104);
    compare_with_naive(200, 600, 17, 1);
    compare_with_naive(9, 1, 33, 1);
    gemm_release();
    compare_with_naive(37, 19, 23, 2);
    gemm_release();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_equals_naive_loops_bit_for_bit_on_one_thread),
        cmocka_unit_test(test_matmul_equals_naive_loops_bit_for_bit_on_two_threads),
        cmocka_unit_test(test_packed_kernel_equals_direct_kernel_bit_for_bit),
        cmocka_unit_test(test_packed_kernel_with_empty_inner_dimension_gives_the_start_values),
        cmocka_unit_test(test_packed_kernel_is_exact_after_its_buffers_grow_shrink_and_are_released),
    };
    return cmocka_run_group_tests_name("gemm", tests, NULL, NULL);
}
