/* Float head: inference and a guarded SGD step (see head.h for the math contract and the rollback). */
#include "head.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

/* One dense layer inside the parameter array: w [inputs][outputs] row-major, then b [outputs]. */
typedef struct {
    float *w;
    float *b;
    uint32_t inputs;
    uint32_t outputs;
} layer;

static float params[HEAD_PARAM_COUNT];
static float logits[HEAD_MAX_BATCH * HEAD_CLASSES]; /* logits, then log-probabilities, then deltas */
#if HEAD_HIDDEN > 0
static float hidden[HEAD_MAX_BATCH * HEAD_HIDDEN];       /* ReLU activations */
static float hidden_delta[HEAD_MAX_BATCH * HEAD_HIDDEN]; /* d loss / d hidden pre-activation */
#endif
static uint32_t rolled_back;
static head_step_status last_status = HEAD_STEP_APPLIED;

static layer output_layer(void)
{
#if HEAD_HIDDEN > 0
    float *w = params + HEAD_FEATURES * HEAD_HIDDEN + HEAD_HIDDEN;
    layer out = {w, w + HEAD_HIDDEN * HEAD_CLASSES, HEAD_HIDDEN, HEAD_CLASSES};
#else
    layer out = {params, params + HEAD_FEATURES * HEAD_CLASSES, HEAD_FEATURES, HEAD_CLASSES};
#endif
    return out;
}

#if HEAD_HIDDEN > 0
static layer hidden_layer(void)
{
    layer h = {params, params + HEAD_FEATURES * HEAD_HIDDEN, HEAD_FEATURES, HEAD_HIDDEN};
    return h;
}
#endif

/* sum over k < n of a[k * a_stride] * b[k * b_stride]: four partial sums (k mod 4) added pairwise at
 * the end, which halves the loop overhead on a scalar FPU. */
static inline float strided_dot(const float *a, uint32_t a_stride, const float *b, uint32_t b_stride, uint32_t n)
{
    float sum0 = 0.0f, sum1 = 0.0f, sum2 = 0.0f, sum3 = 0.0f;
    uint32_t k = 0;
    for (; k + 4 <= n; k += 4) {
        sum0 += a[0] * b[0];
        sum1 += a[a_stride] * b[b_stride];
        sum2 += a[2 * a_stride] * b[2 * b_stride];
        sum3 += a[3 * a_stride] * b[3 * b_stride];
        a += 4 * a_stride;
        b += 4 * b_stride;
    }
    for (; k < n; k++) {
        sum0 += a[0] * b[0];
        a += a_stride;
        b += b_stride;
    }
    return (sum0 + sum1) + (sum2 + sum3);
}

/* out[j] = sum_i in[i] * w[i][j] + b[j]; relu clamps at 0. */
static void dense(const layer *l, const float *in, float *out, bool relu)
{
    for (uint32_t j = 0; j < l->outputs; j++) {
        const float value = strided_dot(in, 1, l->w + j, l->outputs, l->inputs) + l->b[j];
        out[j] = (relu && value < 0.0f) ? 0.0f : value; /* NaN stays NaN, for the guard */
    }
}

/* Logits of one sample into out [C]; its hidden activations into hidden_out [H] (two layers). */
static void forward(const float *features, float *out, float *hidden_out)
{
    const layer last = output_layer();
#if HEAD_HIDDEN > 0
    const layer first = hidden_layer();
    dense(&first, features, hidden_out, true);
    dense(&last, hidden_out, out, false);
#else
    (void)hidden_out;
    dense(&last, features, out, false);
#endif
}

static float row_max(const float *row, uint32_t n)
{
    float m = row[0];
    for (uint32_t j = 1; j < n; j++) {
        m = row[j] > m ? row[j] : m;
    }
    return m;
}

void head_infer(const float *features, float *probabilities)
{
#if HEAD_HIDDEN > 0
    float activations[HEAD_HIDDEN];
#else
    float *activations = NULL;
#endif
    forward(features, probabilities, activations);
    const float m = row_max(probabilities, HEAD_CLASSES);
    float sum = 0.0f;
    for (uint32_t j = 0; j < HEAD_CLASSES; j++) {
        probabilities[j] = expf(probabilities[j] - m);
        sum += probabilities[j];
    }
    for (uint32_t j = 0; j < HEAD_CLASSES; j++) {
        probabilities[j] /= sum;
    }
}

/* Row-wise log-softmax in place; returns sum(onehot * log_p) over the batch. */
static float log_softmax_dot(float *rows, const float *onehot, uint32_t batch)
{
    float picked = 0.0f;
    for (uint32_t s = 0; s < batch; s++) {
        float *row = rows + s * HEAD_CLASSES;
        const float m = row_max(row, HEAD_CLASSES);
        float sum = 0.0f;
        for (uint32_t j = 0; j < HEAD_CLASSES; j++) {
            sum += expf(row[j] - m);
        }
        const float log_sum = logf(sum);
        for (uint32_t j = 0; j < HEAD_CLASSES; j++) {
            row[j] = row[j] - m - log_sum;
            picked += onehot[s * HEAD_CLASSES + j] * row[j];
        }
    }
    return picked;
}

/* Visit every updated parameter w - rate * grad of one layer, with grad = in^T delta (weights) and
 * sum over the batch of delta (biases). store=false only checks that all are finite (stops at the
 * first that is not); store=true writes them. Returns whether all were finite. */
static bool update_layer(const layer *l, const float *in, const float *delta, uint32_t batch, float rate,
                         bool store)
{
    for (uint32_t i = 0; i < l->inputs; i++) {
        float *row = l->w + i * l->outputs;
        for (uint32_t j = 0; j < l->outputs; j++) {
            const float gradient = batch == 1 ? in[i] * delta[j] /* one product: no loop to set up */
                                              : strided_dot(in + i, l->inputs, delta + j, l->outputs, batch);
            const float updated = row[j] - rate * gradient;
            if (store) {
                row[j] = updated;
            } else if (!isfinite(updated)) {
                return false;
            }
        }
    }
    for (uint32_t j = 0; j < l->outputs; j++) {
        float gradient = 0.0f;
        for (uint32_t s = 0; s < batch; s++) {
            gradient += delta[s * l->outputs + j];
        }
        const float updated = l->b[j] - rate * gradient;
        if (store) {
            l->b[j] = updated;
        } else if (!isfinite(updated)) {
            return false;
        }
    }
    return true;
}

/* One layer's part of a step: its parameters, its input and the loss gradient at its output. */
typedef struct {
    layer l;
    const float *in;
    const float *delta;
} layer_step;

#define HEAD_LAYERS (HEAD_HIDDEN > 0 ? 2 : 1)
#define SAFE_MAGNITUDE (FLT_MAX / 2) /* below this, rounding in a bound cannot reach infinity */

static float weight_bound[HEAD_LAYERS]; /* >= the largest |parameter| of each layer */
static bool bounds_known;

/* The gradients of all layers come from the weights before the step: hidden_delta is derived before
 * any store, and the output layer (stored first) is no input of the hidden layer's gradient. */
static void layer_steps(const float *features, layer_step *steps)
{
#if HEAD_HIDDEN > 0
    const layer_step first = {hidden_layer(), features, hidden_delta};
    const layer_step last = {output_layer(), hidden, logits};
    steps[0] = last;
    steps[1] = first;
#else
    const layer_step last = {output_layer(), features, logits};
    steps[0] = last;
#endif
}

/* The largest |v[k]|, or INFINITY when any element is NaN or infinite (then every bound fails). */
static float abs_max(const float *v, uint32_t n)
{
    float largest = 0.0f;
    for (uint32_t k = 0; k < n; k++) {
        const float a = fabsf(v[k]);
        if (!(a <= FLT_MAX)) {
            return INFINITY;
        }
        largest = a > largest ? a : largest;
    }
    return largest;
}

/* An upper bound of |rate * gradient| for every parameter of the layer: |sum_s in[s][i] delta[s][j]|
 * <= max|in| * sum_s max_j |delta[s][j]|, and the bias gradient <= sum_s max_j |delta[s][j]|. NaN or
 * infinite when the rate, the inputs or the deltas are not finite. */
static float change_bound(const layer_step *step, uint32_t batch, float rate)
{
    float delta_mass = 0.0f;
    for (uint32_t s = 0; s < batch; s++) {
        delta_mass += abs_max(step->delta + s * step->l.outputs, step->l.outputs);
    }
    const float in = abs_max(step->in, batch * step->l.inputs);
    return fabsf(rate) * delta_mass * (in > 1.0f ? in : 1.0f);
}

static float layer_magnitude(const layer *l) { return abs_max(l->w, (l->inputs + 1) * l->outputs); }

/* Store the step when every updated parameter is finite (else leave all unchanged); returns whether
 * it was stored. Fast path: when the weights' bound plus the change bound stays far from overflow for
 * every layer, no updated value can be NaN or infinite, and one store pass suffices; otherwise an exact
 * check pass (the same arithmetic, not stored) decides first. */
static bool apply_if_finite(const float *features, uint32_t batch, float rate)
{
    layer_step steps[HEAD_LAYERS];
    layer_steps(features, steps);
    float change[HEAD_LAYERS];
    bool bounded = true;
    for (int k = 0; k < HEAD_LAYERS; k++) {
        if (!bounds_known) {
            weight_bound[k] = layer_magnitude(&steps[k].l);
        }
        change[k] = change_bound(&steps[k], batch, rate);
        bounded = bounded && weight_bound[k] + change[k] <= SAFE_MAGNITUDE;
    }
    bounds_known = true;
    for (int k = 0; k < HEAD_LAYERS && !bounded; k++) {
        if (!update_layer(&steps[k].l, steps[k].in, steps[k].delta, batch, rate, false)) {
            return false;
        }
    }
    for (int k = 0; k < HEAD_LAYERS; k++) {
        update_layer(&steps[k].l, steps[k].in, steps[k].delta, batch, rate, true);
        weight_bound[k] = bounded ? weight_bound[k] + change[k] : layer_magnitude(&steps[k].l);
    }
    return true;
}

#if HEAD_HIDDEN > 0
/* d loss / d hidden pre-activation: delta w1^T where the ReLU output is > 0, else 0 (as `train`). */
static void backprop_hidden(uint32_t batch)
{
    const layer last = output_layer();
    for (uint32_t s = 0; s < batch; s++) {
        for (uint32_t h = 0; h < HEAD_HIDDEN; h++) {
            const float sum = strided_dot(logits + s * HEAD_CLASSES, 1, last.w + h * HEAD_CLASSES, 1, HEAD_CLASSES);
            hidden_delta[s * HEAD_HIDDEN + h] = hidden[s * HEAD_HIDDEN + h] > 0.0f ? sum : 0.0f;
        }
    }
}
#endif

float head_train_step(const float *features, const float *onehot, uint32_t batch, float learning_rate)
{
    if (batch == 0 || batch > HEAD_MAX_BATCH) {
        last_status = HEAD_STEP_BAD_BATCH;
        return NAN;
    }
    for (uint32_t s = 0; s < batch; s++) {
#if HEAD_HIDDEN > 0
        forward(features + s * HEAD_FEATURES, logits + s * HEAD_CLASSES, hidden + s * HEAD_HIDDEN);
#else
        forward(features + s * HEAD_FEATURES, logits + s * HEAD_CLASSES, NULL);
#endif
    }
    const float n = (float)batch;
    const float loss = -log_softmax_dot(logits, onehot, batch) / n;
    for (uint32_t k = 0; k < batch * HEAD_CLASSES; k++) {
        logits[k] = (expf(logits[k]) - onehot[k]) / n; /* d loss / d logits */
    }
#if HEAD_HIDDEN > 0
    backprop_hidden(batch);
#endif
    const bool sane_loss = isfinite(loss) && loss <= HEAD_DIVERGED_LOSS;
    if (!sane_loss || !apply_if_finite(features, batch, learning_rate)) {
        rolled_back++;
        last_status = HEAD_STEP_ROLLED_BACK;
        return loss;
    }
    last_status = HEAD_STEP_APPLIED;
    return loss;
}

head_step_status head_last_step_status(void) { return last_status; }

uint32_t head_rolled_back_steps(void) { return rolled_back; }

void head_init(void)
{
    memcpy(params, head_initial_params, sizeof params);
    bounds_known = false;
    rolled_back = 0;
    last_status = HEAD_STEP_APPLIED;
}

void head_get_weights(float *out) { memcpy(out, params, sizeof params); }

void head_set_weights(const float *in)
{
    memcpy(params, in, sizeof params);
    bounds_known = false;
}

float *head_parameters(void)
{
    bounds_known = false; /* the caller may write them */
    return params;
}
