/* Float head: inference and a guarded SGD step (see head.h for the math contract and the rollback). */
#include "head.h"

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

/* out[j] = sum_i in[i] * w[i][j] + b[j], accumulated in input order; relu clamps at 0. */
static void dense(const layer *l, const float *in, float *out, bool relu)
{
    for (uint32_t j = 0; j < l->outputs; j++) {
        out[j] = 0.0f;
    }
    for (uint32_t i = 0; i < l->inputs; i++) {
        const float x = in[i];
        const float *row = l->w + i * l->outputs;
        for (uint32_t j = 0; j < l->outputs; j++) {
            out[j] += x * row[j];
        }
    }
    for (uint32_t j = 0; j < l->outputs; j++) {
        const float value = out[j] + l->b[j];
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
            float gradient = 0.0f;
            for (uint32_t s = 0; s < batch; s++) {
                gradient += in[s * l->inputs + i] * delta[s * l->outputs + j];
            }
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

/* Both passes (check, then store) over every layer; the gradients of all layers are computed from the
 * weights before the step, since hidden_delta was derived before any store. */
static bool update_all(const float *features, uint32_t batch, float rate, bool store)
{
    const layer last = output_layer();
#if HEAD_HIDDEN > 0
    const layer first = hidden_layer();
    return update_layer(&last, hidden, logits, batch, rate, store)
        && update_layer(&first, features, hidden_delta, batch, rate, store);
#else
    return update_layer(&last, features, logits, batch, rate, store);
#endif
}

#if HEAD_HIDDEN > 0
/* d loss / d hidden pre-activation: delta w1^T where the ReLU output is > 0, else 0 (as `train`). */
static void backprop_hidden(uint32_t batch)
{
    const layer last = output_layer();
    for (uint32_t s = 0; s < batch; s++) {
        for (uint32_t h = 0; h < HEAD_HIDDEN; h++) {
            float sum = 0.0f;
            for (uint32_t j = 0; j < HEAD_CLASSES; j++) {
                sum += logits[s * HEAD_CLASSES + j] * last.w[h * HEAD_CLASSES + j];
            }
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
    if (!sane_loss || !update_all(features, batch, learning_rate, false)) {
        rolled_back++;
        last_status = HEAD_STEP_ROLLED_BACK;
        return loss;
    }
    update_all(features, batch, learning_rate, true);
    last_status = HEAD_STEP_APPLIED;
    return loss;
}

head_step_status head_last_step_status(void) { return last_status; }

uint32_t head_rolled_back_steps(void) { return rolled_back; }

void head_init(void)
{
    memcpy(params, head_initial_params, sizeof params);
    rolled_back = 0;
    last_status = HEAD_STEP_APPLIED;
}

void head_get_weights(float *out) { memcpy(out, params, sizeof params); }

void head_set_weights(const float *in) { memcpy(params, in, sizeof params); }

float *head_parameters(void) { return params; }
