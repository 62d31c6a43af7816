/* The trainable float32 head on the device: inference and one SGD step with exactly the math of the
 * head's TFLite `train` signature (har_edge.export.head; its numpy twin: har_edge.runtime.head), weights
 * in RAM, no malloc.
 *
 * Shapes come from the generated head_config.h (HEAD_FEATURES F, HEAD_HIDDEN H (0: one layer),
 * HEAD_CLASSES C, HEAD_MAX_BATCH). The parameters live in one RAM array of HEAD_PARAM_COUNT floats in
 * the order of the `get_weights` signature, each row-major as TFLite holds them:
 *   one layer:  w0 [F][C], b0 [C]
 *   two layers: w0 [F][H], b0 [H], w1 [H][C], b1 [C]   (ReLU between them)
 * They start as a copy of head_initial_params (const, in flash), generated from the bundle's head.
 *
 * Guard rail: a step whose loss (computed before the step, as `train` reports it) is NaN/Inf or above
 * HEAD_DIVERGED_LOSS, or that would make any parameter NaN/Inf, is rolled back and counted. Rollback
 * costs no RAM (no gradient buffer, no second copy of the weights): before storing anything the step
 * proves that every updated parameter is finite. Usually by a bound: it keeps an upper bound of each
 * layer's largest |parameter| and bounds |rate * gradient| by |rate| * max|input| * sum over the batch
 * of max|delta| (a scan of the inputs and deltas, no extra pass over the weights); while their sum stays
 * below FLT_MAX / 2 no update can overflow, and with finite inputs none can be NaN. When the bound is
 * inconclusive (a huge rate or weights near overflow, or non-finite inputs), an exact check pass
 * computes every updated parameter without storing it first, and the store pass then repeats the same
 * arithmetic, so the stored values are exactly the checked ones. */
#ifndef HAR_HEAD_H
#define HAR_HEAD_H

#include <stdint.h>

#include "head_config.h"

#define HEAD_PARAM_COUNT (HEAD_HIDDEN == 0 ? (HEAD_FEATURES * HEAD_CLASSES + HEAD_CLASSES) \
    : (HEAD_FEATURES * HEAD_HIDDEN + HEAD_HIDDEN + HEAD_HIDDEN * HEAD_CLASSES + HEAD_CLASSES))

/* -ln(FLT_MIN): a mean cross-entropy above it means the true classes' probabilities are below anything
 * float32 represents (the host Personalizer's DIVERGED_LOSS). */
#define HEAD_DIVERGED_LOSS 87.33654475f

typedef enum {
    HEAD_STEP_APPLIED = 0,     /* the weights were updated */
    HEAD_STEP_ROLLED_BACK = 1, /* NaN/Inf/diverged loss or weights: weights unchanged, counted */
    HEAD_STEP_BAD_BATCH = 2    /* batch 0 or above HEAD_MAX_BATCH: nothing computed, not counted */
} head_step_status;

/* Copy the initial (bundle) weights into RAM and reset the rollback counter. */
void head_init(void);

/* One sample: features [F] -> class probabilities [C] (softmax, as the `infer` signature). */
void head_infer(const float *features, float *probabilities);

/* One SGD step on the batch mean of the softmax cross-entropy: features [batch][F], onehot
 * [batch][C] (rows summing to 1). Returns the loss BEFORE the step (NaN for a bad batch size);
 * head_last_step_status() tells whether the step was applied. */
float head_train_step(const float *features, const float *onehot, uint32_t batch, float learning_rate);

head_step_status head_last_step_status(void);
uint32_t head_rolled_back_steps(void);

/* Copy all HEAD_PARAM_COUNT parameters out / in (get_weights / set_weights). */
void head_get_weights(float *params);
void head_set_weights(const float *params);

/* The live RAM parameters (for the checkpoint code, which streams them without a second copy). */
float *head_parameters(void);

/* Bytes of RAM the head itself uses: parameters + the step's scratch (logits/deltas, hidden
 * activations and their deltas for HEAD_MAX_BATCH samples). The caller's mini-batch buffers
 * (features [HEAD_MAX_BATCH][F], onehot [HEAD_MAX_BATCH][C]) come on top. */
#define HEAD_SCRATCH_FLOATS (HEAD_MAX_BATCH * HEAD_CLASSES + 2 * HEAD_MAX_BATCH * HEAD_HIDDEN)
#define HEAD_RAM_BYTES (4u * (HEAD_PARAM_COUNT + HEAD_SCRATCH_FLOATS))
#define HEAD_BATCH_CACHE_BYTES (4u * HEAD_MAX_BATCH * (HEAD_FEATURES + HEAD_CLASSES))

#endif
