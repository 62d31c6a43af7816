/* On-device personalization: the generated int8 base turns each window into features, the float head
 * learns them by SGD with the host Personalizer's schedule, the best held-out epoch is kept in the
 * checkpoint slots, and held-out evaluation windows are classified before and after.
 *
 * Files in the working directory (semihosting on the board), little-endian:
 *   har_in.bin    int8 windows, BASE_INPUT_SIZE bytes each: the n training-pool windows, then n_eval
 *   har_plan.bin  u32 n, n_eval, epochs, batch_size, patience (0xFFFFFFFF: none), n_held, n_train;
 *                 u32 labels [n]; u32 eval labels [n_eval]; u32 held-out indices [n_held];
 *                 per epoch: f32 learning rate, u32 training order [n_train]
 *   har_ckpt.bin  the two checkpoint slots (checkpoint.h); the best weights are saved there
 *   har_out.bin   u32 eval predictions before [n_eval]; per epoch run: f32 mean train loss, holdout
 *                 loss, holdout accuracy (NaN without a holdout); u32 eval predictions after [n_eval];
 *                 u32 epochs run, best epoch, rolled-back steps; the final parameters (HEAD_PARAM_COUNT)
 * stdout: "HAR base instructions N" (one window), "HAR step batch B instructions N" per SGD step (the
 * first two: rate-0 probes at batch 1 and at the plan's batch size, which leave the weights unchanged),
 * "HAR ram ...", "HAR stack_bytes N", "HAR done".
 *
 * Compile-time capacities: PERSONALIZE_MAX_WINDOWS (n + n_eval labels, n_held indices; default 1024)
 * and PERSONALIZE_CACHED_WINDOWS (default 0): the first that many training-pool windows keep their
 * int8 base output once computed (PERSONALIZE_CACHED_WINDOWS * BASE_OUTPUT_SIZE bytes of RAM), as the
 * host caches features; the others run through the base again whenever a batch needs them. */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "base_model.h"
#include "checkpoint.h"
#include "har_board.h"
#include "head.h"
#include "head_io.h"

#ifndef PERSONALIZE_CACHED_WINDOWS
#define PERSONALIZE_CACHED_WINDOWS 0
#endif
#ifndef PERSONALIZE_MAX_WINDOWS
#define PERSONALIZE_MAX_WINDOWS 1024
#endif

typedef struct {
    uint32_t n, n_eval, epochs, batch_size, patience, n_held, n_train; /* patience 0xFFFFFFFF: none */
} plan_header;

static FILE *windows_file, *plan_file, *out_file;
static int8_t window[BASE_INPUT_SIZE];
static int8_t base_output[BASE_OUTPUT_SIZE];
#if PERSONALIZE_CACHED_WINDOWS > 0
static int8_t feature_cache[PERSONALIZE_CACHED_WINDOWS][BASE_OUTPUT_SIZE];
static uint8_t cached[PERSONALIZE_CACHED_WINDOWS];
#endif
static float batch_features[HEAD_MAX_BATCH * HEAD_FEATURES]; /* the mini-batch features cache */
static float batch_onehot[HEAD_MAX_BATCH * HEAD_CLASSES];
static float probabilities[HEAD_CLASSES];
static uint32_t batch_indices[HEAD_MAX_BATCH];
static uint32_t labels[PERSONALIZE_MAX_WINDOWS];
static uint32_t held[PERSONALIZE_MAX_WINDOWS];
static int base_measured;

static void run_base(uint32_t index)
{
    if (fseek(windows_file, (long)index * BASE_INPUT_SIZE, SEEK_SET) != 0) {
        head_io_fail("cannot seek in har_in.bin");
    }
    head_io_read(windows_file, window, sizeof window);
    const uint64_t before = har_board_instructions();
    base_invoke(window, base_output);
    if (!base_measured) {
        printf("HAR base instructions %llu\n", (unsigned long long)(har_board_instructions() - before));
        base_measured = 1;
    }
}

/* The dequantized base output of window `index` into features [F], as the host runtime computes it. */
static void features_of(uint32_t index, float *features)
{
    const int8_t *q = base_output;
#if PERSONALIZE_CACHED_WINDOWS > 0
    if (index < PERSONALIZE_CACHED_WINDOWS) {
        if (!cached[index]) {
            run_base(index);
            for (uint32_t k = 0; k < BASE_OUTPUT_SIZE; k++) {
                feature_cache[index][k] = base_output[k];
            }
            cached[index] = 1;
        }
        q = feature_cache[index];
    } else {
        run_base(index);
    }
#else
    run_base(index);
#endif
    for (uint32_t k = 0; k < HEAD_FEATURES; k++) {
        features[k] = ((float)q[k] - (float)BASE_OUTPUT_ZERO_POINT) * BASE_OUTPUT_SCALE;
    }
}

static uint32_t predict(uint32_t index)
{
    features_of(index, batch_features);
    head_infer(batch_features, probabilities);
    uint32_t best = 0;
    for (uint32_t j = 1; j < HEAD_CLASSES; j++) {
        best = probabilities[j] > probabilities[best] ? j : best;
    }
    return best;
}

static void write_predictions(uint32_t first, uint32_t count)
{
    for (uint32_t k = 0; k < count; k++) {
        const uint32_t label = predict(first + k);
        head_io_write(out_file, &label, sizeof label);
    }
}

/* Mean cross-entropy (probabilities floored at FLT_MIN) and accuracy on the held-out windows. */
static void holdout_metrics(uint32_t n_held, float *loss, float *accuracy)
{
    float sum = 0.0f;
    uint32_t correct = 0;
    for (uint32_t k = 0; k < n_held; k++) {
        const uint32_t truth = labels[held[k]];
        correct += predict(held[k]) == truth;
        sum += -logf(probabilities[truth] > FLT_MIN ? probabilities[truth] : FLT_MIN);
    }
    *loss = sum / (float)n_held;
    *accuracy = (float)correct / (float)n_held;
}

/* One SGD step on the windows batch_indices[0..count): features via the base, one-hot labels. */
static float train_batch(uint32_t count, float rate)
{
    for (uint32_t s = 0; s < count; s++) {
        features_of(batch_indices[s], batch_features + s * HEAD_FEATURES);
        for (uint32_t j = 0; j < HEAD_CLASSES; j++) {
            batch_onehot[s * HEAD_CLASSES + j] = labels[batch_indices[s]] == j ? 1.0f : 0.0f;
        }
    }
    const uint64_t before = har_board_instructions();
    const float loss = head_train_step(batch_features, batch_onehot, count, rate);
    printf("HAR step batch %lu instructions %llu\n", (unsigned long)count,
           (unsigned long long)(har_board_instructions() - before));
    return loss;
}

/* Instructions of one SGD step at batch 1 and at the plan's batch size, on the first pool windows, with
 * a learning rate of 0: the same arithmetic as a real step, and the weights stay exactly as they are. */
static void probe_step_costs(const plan_header *p)
{
    const uint32_t sizes[2] = {1, p->batch_size < p->n ? p->batch_size : p->n};
    for (int k = 0; k < 2; k++) {
        for (uint32_t s = 0; s < sizes[k]; s++) {
            batch_indices[s] = s;
        }
        train_batch(sizes[k], 0.0f);
    }
}

static void check_plan(const plan_header *p)
{
    if (p->n + p->n_eval > PERSONALIZE_MAX_WINDOWS || p->batch_size == 0 || p->batch_size > HEAD_MAX_BATCH
        || p->n_held + p->n_train != p->n || p->n_train == 0) {
        head_io_fail("plan out of range (windows, batch size or holdout)");
    }
    for (uint32_t k = 0; k < p->n + p->n_eval; k++) {
        if (labels[k] >= HEAD_CLASSES || (k < p->n_held && held[k] >= p->n)) {
            head_io_fail("label or held-out index out of range");
        }
    }
}

/* One epoch: the training order streamed from the plan batch by batch; returns the mean kept loss. */
static float train_epoch(const plan_header *p, float rate)
{
    float loss_sum = 0.0f;
    uint32_t kept = 0;
    for (uint32_t start = 0; start < p->n_train; start += p->batch_size) {
        const uint32_t count = p->n_train - start < p->batch_size ? p->n_train - start : p->batch_size;
        head_io_read(plan_file, batch_indices, count * sizeof batch_indices[0]);
        for (uint32_t s = 0; s < count; s++) {
            if (batch_indices[s] >= p->n) {
                head_io_fail("training index out of range");
            }
        }
        const float loss = train_batch(count, rate);
        if (head_last_step_status() == HEAD_STEP_APPLIED) {
            loss_sum += loss;
            kept++;
        }
    }
    return kept ? loss_sum / (float)kept : NAN;
}

int main(void)
{
    har_board_init();
    head_init();
    windows_file = fopen("har_in.bin", "rb");
    plan_file = fopen("har_plan.bin", "rb");
    out_file = fopen("har_out.bin", "wb");
    head_file_storage slots = {fopen("har_ckpt.bin", "r+b"), UINT32_MAX};
    if (windows_file == NULL || plan_file == NULL || out_file == NULL || slots.file == NULL) {
        head_io_fail("cannot open har_in.bin, har_plan.bin, har_out.bin or har_ckpt.bin");
    }
    plan_header p;
    head_io_read(plan_file, &p, sizeof p);
    if (p.n + p.n_eval > PERSONALIZE_MAX_WINDOWS || p.n_held > p.n) {
        head_io_fail("more windows than PERSONALIZE_MAX_WINDOWS");
    }
    head_io_read(plan_file, labels, (p.n + p.n_eval) * sizeof labels[0]);
    head_io_read(plan_file, held, p.n_held * sizeof held[0]);
    check_plan(&p);
    const head_storage storage = head_io_storage(&slots);
    head_ckpt_state state;
    head_ckpt_scan(&storage, &state);

    write_predictions(p.n, p.n_eval);
    probe_step_costs(&p);
    float best_loss = INFINITY, epoch_metrics[3];
    uint32_t best_epoch = 0, since_best = 0, epochs_run = 0;
    if (p.n_held > 0) {
        holdout_metrics(p.n_held, &best_loss, &epoch_metrics[2]);
        if (head_ckpt_save(&storage, &state) != HEAD_CKPT_OK) { /* epoch 0: the starting weights */
            head_io_fail("checkpoint save failed");
        }
    }
    while (epochs_run < p.epochs) {
        float rate;
        head_io_read(plan_file, &rate, sizeof rate);
        epoch_metrics[0] = train_epoch(&p, rate);
        epoch_metrics[1] = epoch_metrics[2] = NAN;
        epochs_run++;
        int improved = 0;
        if (p.n_held > 0) {
            holdout_metrics(p.n_held, &epoch_metrics[1], &epoch_metrics[2]);
            improved = epoch_metrics[1] < best_loss;
        }
        head_io_write(out_file, epoch_metrics, sizeof epoch_metrics);
        if (improved) {
            best_loss = epoch_metrics[1];
            best_epoch = epochs_run;
            since_best = 0;
        } else if (p.n_held > 0) {
            since_best++;
        }
        /* The best weights live in the checkpoint slots, not in a second RAM copy; without a holdout
         * the last weights are kept, saved after the last epoch. */
        const int last = since_best >= p.patience || epochs_run == p.epochs;
        if ((improved || (p.n_held == 0 && last)) && head_ckpt_save(&storage, &state) != HEAD_CKPT_OK) {
            head_io_fail("checkpoint save failed");
        }
        if (since_best >= p.patience) {
            break;
        }
    }
    if (p.n_held > 0 && head_ckpt_load(&storage, &state) != HEAD_CKPT_OK) {
        head_io_fail("checkpoint load failed");
    }
    write_predictions(p.n, p.n_eval);
    const uint32_t summary[3] = {epochs_run, p.n_held > 0 ? best_epoch : epochs_run, head_rolled_back_steps()};
    head_io_write(out_file, summary, sizeof summary);
    head_io_write(out_file, head_parameters(), HEAD_PARAM_COUNT * sizeof(float));
    fclose(out_file);
    fclose(slots.file);
    printf("HAR ram head_bytes %lu batch_cache_bytes %lu feature_cache_bytes %lu\n", (unsigned long)HEAD_RAM_BYTES,
           (unsigned long)HEAD_BATCH_CACHE_BYTES, (unsigned long)PERSONALIZE_CACHED_WINDOWS * BASE_OUTPUT_SIZE);
    printf("HAR checkpoint slot %d sequence %lu\n", state.active_slot, (unsigned long)state.active_sequence);
    printf("HAR stack_bytes %lu\n", (unsigned long)har_board_stack_high_water());
    printf("HAR done epochs=%lu\n", (unsigned long)epochs_run);
    har_board_exit(0);
    return 0;
}
