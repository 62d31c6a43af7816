/* int8 UNIDIRECTIONAL_SEQUENCE_LSTM with TFLite's 8x8_16 integer arithmetic (its reference kernel's
 * order of operations): per step and gate, the int16 Q3.12 pre-activation saturates after the input
 * product and again after adding the recurrent one; sigmoid (i, f, o) and tanh (g) are gemmlowp's
 * int16 fixed-point functions; the int16 cell is c = f*c >> 15 (+) i*g >> cell_shift, saturated and
 * clipped; the hidden state o * tanh(c) is requantized to int8. Every constant comes from the
 * generator (har_edge/codegen/quant_lstm.py). The state starts from reset on every call.
 *
 * Per step and gate, the input and the recurrent sums of every unit (har_dot.h's weights interleaved
 * by 4 rows, each row padded to 16 inputs) are rescaled and added in one pass; then every unit's
 * activations and cell update. The DSP loop (assembly on the core) reads the input and hidden vectors
 * sign-extended once per step (int16 pairs, as SXTB16 gives them), so the rows only unpack their
 * weights. The portable loops give the same bytes. */
#include <stdint.h>
#include <string.h>

#include "har_dot.h"
#include "har_lstm_exp.h"
#include "har_nn.h"
#include "requant.h"

/* ---- gemmlowp's int16 fixed point on int32 values. Every range below is the one its int16 raw values
 * take for some input; tests/test_lstm_activations.py compares the functions with gemmlowp's over all
 * 65,536 inputs, so the saturations and int16 wraps gemmlowp has and these lack are ones that never
 * happen here. */

static HAR_ALWAYS_INLINE int32_t saturate16(int32_t x)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    return __ssat(x, 16);
#else
    return x > INT16_MAX ? INT16_MAX : x < INT16_MIN ? INT16_MIN : x;
#endif
}

/* SaturatingRoundingDoublingHighMul: floor((a * b + 2^14) / 2^15); it saturates only for
 * INT16_MIN * INT16_MIN, which no caller passes */
static HAR_ALWAYS_INLINE int32_t fx_mul(int32_t a, int32_t b)
{
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
    return __smlabb((uint32_t)a, (uint32_t)b, 1 << 14) >> 15; /* a, b are int16 values: one SMLABB */
#else
    return (a * b + (1 << 14)) >> 15;
#endif
}

/* RescaleConstantInitializer of gemmlowp's 32-bit constants, computed once: round(c / 2^16) */
enum {
    EXP_MINUS_1_8 = 28918, /* 1895147668: exp(-1/8), Q0.15 */
    ONE_THIRD = 10923,     /* 715827883 */
    C_48_17 = 23130,       /* 1515870810: 48/17, Q2.13 */
    C_NEG_32_17 = -15420,  /* -1010580540 */
};
static const int16_t EXP_BARREL[7] = {25520, 19875, 12055, 4435, 600, 11, 0}; /* exp(-2^e), e = -2..4 */

/* exp(a) for a in [-1/4, 0) (Q0.15, a multiple of 8 or finer), Q0.15: the fourth-order expansion
 * around -1/8; the polynomial is never negative, so gemmlowp's halving rounds up */
static HAR_ALWAYS_INLINE int32_t exp_quarter(int32_t a)
{
    const int32_t x = a + (1 << 12);
    const int32_t x2 = fx_mul(x, x), x3 = fx_mul(x2, x), x4 = fx_mul(x2, x2);
    const int32_t poly = (fx_mul(((x4 + 2) >> 2) + x3, ONE_THIRD) + x2 + 1) >> 1;
    return EXP_MINUS_1_8 + fx_mul(EXP_MINUS_1_8, x + poly);
}

/* one step of gemmlowp's barrel shifter: times exp(-2^e) when bit e of n's magnitude minus one is set */
static HAR_ALWAYS_INLINE int32_t barrel_step(int32_t result, int32_t n, int integer_bits, int e)
{
    const int32_t bit = 1 << (15 - integer_bits + e);
    return integer_bits > e && !(n & bit) ? fx_mul(result, EXP_BARREL[e + 2]) : result;
}

/* exp(n) for n < 0 with integer_bits (gemmlowp's exp_on_negative_values), Q0.15: exp of n's last
 * quarter fraction times exp(-2^e) for every bit e of the rest. With n = -m that rest is (m - 1) with
 * the low bits cleared, i.e. the bits of ~n: a clear bit of n multiplies. */
static HAR_ALWAYS_INLINE int32_t exp_negative(int32_t n, int integer_bits)
{
    const int fractional = 15 - integer_bits;
    const int32_t quarter = 1 << (fractional - 2);
    /* with 3 integer bits or more the quarter's fraction is a multiple of 8: its exp is in the table */
    int32_t result = integer_bits >= 3 ? har_lstm_exp_quarter[(n & (quarter - 1)) << (integer_bits - 3)]
                                       : exp_quarter(((n & (quarter - 1)) - quarter) * (1 << integer_bits));
    result = barrel_step(result, n, integer_bits, -2), result = barrel_step(result, n, integer_bits, -1);
    result = barrel_step(result, n, integer_bits, 0), result = barrel_step(result, n, integer_bits, 1);
    result = barrel_step(result, n, integer_bits, 2), result = barrel_step(result, n, integer_bits, 3);
    result = barrel_step(result, n, integer_bits, 4);
    if (integer_bits > 5 && n < -(1 << (20 - integer_bits))) result = 0; /* below -32 */
    return result;
}

/* 2 / (1 + e) in Q2.13 for e in [0, 1) (Q0.15): three Newton-Raphson steps from 48/17 - 32/17 d,
 * d = (1 + e) / 2; the result lies in [8190, 16384] */
static HAR_ALWAYS_INLINE int32_t two_over_one_plus(int32_t e)
{
    const int32_t half_denominator = (e + (1 << 15)) >> 1;
    int32_t x = C_48_17 + fx_mul(half_denominator, C_NEG_32_17);
#if defined(__GNUC__)
#pragma GCC unroll 3
#endif
    for (int i = 0; i < 3; i++) x += 4 * fx_mul(x, (1 << 13) - fx_mul(half_denominator, x));
    return x;
}

/* gemmlowp::logistic of Q3.12 to Q0.15 */
static HAR_ALWAYS_INLINE int32_t sigmoid_q3_12(int32_t a)
{
    const int32_t x = two_over_one_plus(exp_negative(a > 0 ? -a : a, 3));
    const int32_t positive = saturate16(2 * x); /* 1 / (1 + exp(-|a|)): one SSAT with a shift */
    const int32_t result = a > 0 ? positive : INT16_MAX - positive;
    return a == 0 ? 1 << 14 : result;
}

/* gemmlowp::tanh of a fixed-point number with integer_bits to Q0.15 */
static HAR_ALWAYS_INLINE int32_t tanh_q(int32_t a, int integer_bits)
{
    const int32_t x = two_over_one_plus(exp_negative(a < 0 ? a : -a, integer_bits + 1)) - (1 << 13);
    const int32_t t = saturate16(4 * x); /* (1 - exp(-2|a|)) / (1 + exp(-2|a|)) */
    const int32_t result = a < 0 ? -t : t;
    return a == 0 ? 0 : result;
}

/* tanh of the cell, whose integer bits (0..6, 15 + k for a cell scale 2^k) are known only at run time:
 * one copy per count, so that the barrel shifter and the exp's first factor unroll */
static int32_t tanh_cell(int32_t c, int integer_bits)
{
    switch (integer_bits) {
    case 0: return tanh_q(c, 0);
    case 1: return tanh_q(c, 1);
    case 2: return tanh_q(c, 2);
    case 3: return tanh_q(c, 3);
    case 4: return tanh_q(c, 4);
    case 5: return tanh_q(c, 5);
    default: return tanh_q(c, 6);
    }
}

/* ---- the LSTM */

/* RoundingDivideByPOT (ties away from zero) by ``right``: ``nudge`` is -1 when right > 0 (a negative
 * value's tie rounds down), else 0 */
typedef struct {
    int32_t round, nudge, right;
} lstm_pot;

static lstm_pot pot_of(int32_t right) { return (lstm_pot){(1 << right) >> 1, right ? -1 : 0, right}; }

static HAR_ALWAYS_INLINE int32_t divide_pot(int32_t x, lstm_pot d)
{
    return (x + ((x >> 31) & d.nudge) + d.round) >> d.right;
}

/* HAR_ROUND_DOUBLE (requant.h) of x: y = x * 2^left (the generator checked that y stays in int32,
 * quant_lstm.check_short_requant), SaturatingRoundingDoublingHighMul(y, m) = floor((2 y m + 2^31) / 2^32)
 * = y + floor((y (2m - 2^32) + 2^31) / 2^32): one SMMLAR with 2m wrapped to int32; then
 * RoundingDivideByPOT */
typedef struct {
    int32_t scale, doubled;
    lstm_pot divide;
} lstm_requant;

static lstm_requant requant_of(int32_t multiplier, int32_t shift)
{
    return (lstm_requant){1 << (shift > 0 ? shift : 0), (int32_t)((uint32_t)multiplier << 1),
                          pot_of(shift > 0 ? 0 : -shift)};
}

static HAR_ALWAYS_INLINE int32_t requant(int32_t x, const lstm_requant *q)
{
    const int32_t y = x * q->scale;
    return divide_pot(har_smmlar(y, q->doubled, y), q->divide);
}

/* the inputs of a row are padded to a multiple of 16 with zero weights (ops_lstm.py), so that the DSP
 * loop takes four blocks of 4 a turn and has no tail; a group of 4 rows holds 4 x that many weights */
static inline int32_t padded_depth(int32_t k) { return (k + 15) & ~15; }

#if HAR_USE_DSP
/* k int8 values as int16 pairs (SXTB16 of each word and of the word rotated by 8), padded with zeros
 * to padded_depth(k) */
static void unpack_pairs(const int8_t *v, int32_t k, uint32_t *pairs)
{
    int32_t i = 0;
    for (; i + 4 <= k; i += 4, pairs += 2) {
        const uint32_t word = har_load4(v + i);
        pairs[0] = har_sxtb16(word), pairs[1] = har_sxtb16_ror8(word);
    }
    for (; i < padded_depth(k); i += 4, pairs += 2) {
        int8_t tail[4] = {0, 0, 0, 0};
        if (i < k) memcpy(tail, v + i, (size_t)(k - i));
        const uint32_t word = har_load4(tail);
        pairs[0] = har_sxtb16(word), pairs[1] = har_sxtb16_ror8(word);
    }
}

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && defined(__GNUC__) && defined(__OPTIMIZE__)
/* the DSP loop in assembly (GCC's schedule of the C spills accumulators): per block of 4 inputs, the two
 * pairs (one post-indexed LDRD) and the 4 rows' 16 weights (one LDM into r4-r7, which the asm claims:
 * hence an optimized build, whose frame needs no r7), 8 SXTB16 and 8 SMLAD */
#define LSTM_ROW(a, r)                                                                                       \
    "sxtb16 %[wx], " r "\n\t"                                                                                \
    "smlad %[" a "], %[x02], %[wx], %[" a "]\n\t"                                                            \
    "sxtb16 " r ", " r ", ror #8\n\t"                                                                        \
    "smlad %[" a "], %[x13], " r ", %[" a "]\n\t"
#define LSTM_BLOCK                                                                                           \
    "ldrd %[x02], %[x13], [%[x]], #8\n\t"                                                                    \
    "ldmia %[w]!, {r4, r5, r6, r7}\n\t" LSTM_ROW("a0", "r4") LSTM_ROW("a1", "r5") LSTM_ROW("a2", "r6")        \
        LSTM_ROW("a3", "r7")
#else
/* one block of 4 inputs (2 pairs) against the 4 rows' 16 weights */
static HAR_ALWAYS_INLINE har_acc4 block_pairs(const uint32_t *x, const int8_t *w, har_acc4 acc)
{
    const uint32_t x02 = x[0], x13 = x[1];
    uint32_t ws[4];
    memcpy(ws, w, 16);
    acc.a0 = har_smlad(x13, har_sxtb16_ror8(ws[0]), har_smlad(x02, har_sxtb16(ws[0]), acc.a0));
    acc.a1 = har_smlad(x13, har_sxtb16_ror8(ws[1]), har_smlad(x02, har_sxtb16(ws[1]), acc.a1));
    acc.a2 = har_smlad(x13, har_sxtb16_ror8(ws[2]), har_smlad(x02, har_sxtb16(ws[2]), acc.a2));
    acc.a3 = har_smlad(x13, har_sxtb16_ror8(ws[3]), har_smlad(x02, har_sxtb16(ws[3]), acc.a3));
    return acc;
}
#endif
#endif

/* the raw int32 products of one gate's rows with one vector (v: int8; pairs: the same unpacked), started
 * from the generator's biases (padded to groups of 4 rows): raw[4 * groups]; returns the weights that
 * follow */
static const int8_t *gate_products(const int8_t *v, const uint32_t *pairs, const int8_t *w, int32_t k,
                                   const int32_t *bias, int32_t groups, int32_t *raw)
{
#if HAR_USE_DSP && defined(LSTM_BLOCK)
    (void)v;
    for (int32_t group = 0; group < groups; group++, bias += 4, raw += 4) {
        const uint32_t *x = pairs;
        int32_t turns = padded_depth(k) / 16;
        uint32_t a0, a1, a2, a3, x13, wx;
        uintptr_t x02 = (uintptr_t)bias; /* the biases' address until the loop loads the first pair */
        __asm__("ldrd %[a0], %[a1], [%[x02]]\n\t"
                "ldrd %[a2], %[a3], [%[x02], #8]\n"
                "1:\n\t" LSTM_BLOCK LSTM_BLOCK LSTM_BLOCK LSTM_BLOCK "subs %[n], %[n], #1\n\t"
                "bne 1b"
                : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x] "+r"(x), [w] "+r"(w),
                  [n] "+r"(turns), [x02] "+&r"(x02), [x13] "=&r"(x13), [wx] "=&r"(wx)
                :
                : "r4", "r5", "r6", "r7", "cc", "memory");
        raw[0] = (int32_t)a0, raw[1] = (int32_t)a1, raw[2] = (int32_t)a2, raw[3] = (int32_t)a3;
    }
#else
    for (int32_t group = 0; group < groups; group++, bias += 4, raw += 4) {
        har_acc4 acc = {bias[0], bias[1], bias[2], bias[3]};
#if HAR_USE_DSP
        (void)v;
        for (int32_t i = 0; i < padded_depth(k); i += 4, w += 16) acc = block_pairs(pairs + i / 2, w, acc);
#else
        (void)pairs;
        acc = har_dot4(v, w, k, k, acc);
        w += 4 * padded_depth(k);
#endif
        memcpy(raw, &acc, sizeof acc);
    }
#endif
    return w;
}

/* requant, with ``plain`` (a constant) for the usual gate constants: no left shift and a right shift,
 * so that RoundingDivideByPOT's nudge of negative ties is the sign itself */
static HAR_ALWAYS_INLINE int32_t requant_as(int32_t x, const lstm_requant *q, const int plain)
{
    if (!plain) return requant(x, q);
    const int32_t high = har_smmlar(x, q->doubled, x);
    return (high + (high >> 31) + q->divide.round) >> q->divide.right;
}

static HAR_ALWAYS_INLINE int32_t pre_activation(int32_t from_x, int32_t from_h, const lstm_requant *qx,
                                                const lstm_requant *qh, const int plain)
{
    return saturate16(saturate16(requant_as(from_x, qx, plain)) + requant_as(from_h, qh, plain));
}

/* one gate's input and recurrent sums rescaled to Q3.12 and added, saturated as TFLite does */
static HAR_ALWAYS_INLINE void rescale_gate(const int32_t *raw_x, const int32_t *raw_h, const lstm_requant *qx,
                                          const lstm_requant *qh, int32_t padded, int16_t *gates, const int plain)
{
    for (int32_t u = 0; u < padded; u += 4, gates += 4, raw_x += 4, raw_h += 4) {
        gates[0] = (int16_t)pre_activation(raw_x[0], raw_h[0], qx, qh, plain);
        gates[1] = (int16_t)pre_activation(raw_x[1], raw_h[1], qx, qh, plain);
        gates[2] = (int16_t)pre_activation(raw_x[2], raw_h[2], qx, qh, plain);
        gates[3] = (int16_t)pre_activation(raw_x[3], raw_h[3], qx, qh, plain);
    }
}

/* the vectors of one step: int8 (portable loop) or unpacked pairs (DSP loop), and two gates' worth of
 * raw sums (input side, recurrent side) */
typedef struct {
    const int8_t *x, *h;
    const uint32_t *x_pairs, *h_pairs;
    int32_t depth, units;
    int32_t *raw;
} lstm_step;

static int plain_requant(const lstm_requant *q) { return q->scale == 1 && q->divide.right > 0; }

/* one step's gate pre-activations (Q3.12) into gates[4][units padded to 4], gate after gate (the
 * weights and biases of the four gates follow each other) */
static void gate_inputs(const lstm_step *s, const har_lstm_params *p, const lstm_requant *rq, int16_t *gates)
{
    const int32_t padded = (s->units + 3) & ~3;
    const int8_t *wx = p->input_weights, *wh = p->recurrent_weights;
    int32_t *raw_x = s->raw, *raw_h = s->raw + padded;
    for (int32_t g = 0; g < 4; g++, gates += padded) {
        wx = gate_products(s->x, s->x_pairs, wx, s->depth, p->input_bias + g * padded, padded / 4, raw_x);
        wh = gate_products(s->h, s->h_pairs, wh, s->units, p->recurrent_bias + g * padded, padded / 4, raw_h);
        if (plain_requant(&rq[g]) && plain_requant(&rq[4 + g]))
            rescale_gate(raw_x, raw_h, &rq[g], &rq[4 + g], padded, gates, 1);
        else
            rescale_gate(raw_x, raw_h, &rq[g], &rq[4 + g], padded, gates, 0);
    }
}

/* the constants of the cell update */
typedef struct {
    lstm_requant hidden;
    lstm_pot cell;
    int32_t units, padded, hidden_zero, clip, tanh_bits;
} lstm_cell;

/* the gates' activations, the cell update and the int8 hidden state h of one step */
static void cell_update(const lstm_cell *k, const int16_t *gates, int16_t *cell, int8_t *h)
{
    const int32_t padded = k->padded, clip = k->clip, tanh_bits = k->tanh_bits;
    const lstm_pot kept = pot_of(15);
    for (int32_t u = 0; u < k->units; u++) {
        const int32_t input_gate = sigmoid_q3_12(gates[u]);
        const int32_t forgotten = divide_pot(sigmoid_q3_12(gates[padded + u]) * cell[u], kept);
        int32_t c = saturate16(forgotten + divide_pot(input_gate * tanh_q(gates[2 * padded + u], 3), k->cell));
        if (clip > 0) c = c > clip ? clip : c < -clip ? -clip : c;
        cell[u] = (int16_t)c;
        /* below 2^-15 LiteRT's ApplyTanh has no case for the cell and leaves its buffer, the input
         * gate's, as it was: o * i then stands for o * tanh(c) */
        const int32_t activated = tanh_bits >= 0 ? tanh_cell(c, tanh_bits) : input_gate;
        h[u] = har_sat_s8(requant(sigmoid_q3_12(gates[3 * padded + u]) * activated, &k->hidden) + k->hidden_zero);
    }
}

void har_lstm_s8(const har_lstm_params *p, const int8_t *input, int8_t *output)
{
    const int32_t units = p->units, depth = p->inputs, padded = (units + 3) & ~3;
    /* scratch: unpacked input and hidden pairs (words), one gate's raw sums per side, the gates, the int16 cell,
     * the int8 initial hidden state */
    uint32_t *x_pairs = (uint32_t *)(void *)p->scratch, *h_pairs = x_pairs + padded_depth(depth) / 2;
    int32_t *raw = (int32_t *)(void *)(h_pairs + padded_depth(units) / 2);
    int16_t *gates = (int16_t *)(void *)(raw + 2 * padded), *cell = gates + 4 * padded;
    int8_t *initial_hidden = (int8_t *)(cell + units);
    lstm_requant rq[8];
    for (int32_t g = 0; g < 4; g++) {
        rq[g] = requant_of(p->input_multiplier[g], p->input_shift[g]);
        rq[4 + g] = requant_of(p->recurrent_multiplier[g], p->recurrent_shift[g]);
    }
    const lstm_cell k = {requant_of(p->hidden_multiplier, p->hidden_shift), pot_of(p->cell_shift), units, padded,
                         p->hidden_zero, p->cell_clip, p->tanh_integer_bits};
    for (int32_t u = 0; u < units; u++) {
        cell[u] = 0;
        initial_hidden[u] = (int8_t)p->state_zero;
    }
    const int8_t *hidden = initial_hidden;
    for (int32_t t = 0; t < p->steps; t++) {
        const lstm_step s = {input + t * depth, hidden, x_pairs, h_pairs, depth, units, raw};
#if HAR_USE_DSP
        unpack_pairs(s.x, depth, x_pairs);
        unpack_pairs(hidden, units, h_pairs);
#endif
        gate_inputs(&s, p, rq, gates);
        int8_t *h = output + t * units;
        cell_update(&k, gates, cell, h);
        hidden = h;
    }
}
