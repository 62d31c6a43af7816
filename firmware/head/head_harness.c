/* Head harness: runs a command stream against the head and its checkpoint slots (parity and storage
 * tests, measurements). Files in the working directory (stdio; semihosting on the board):
 *   har_head_in.bin   commands: uint32 opcode, then its arguments (little-endian, float32 arrays)
 *   har_head_out.bin  the replies, in command order
 *   har_ckpt.bin      the two checkpoint slots (2 * HEAD_SLOT_BYTES, 0xFF = erased), opened read/write
 * Commands (F, C, P = HEAD_FEATURES, HEAD_CLASSES, HEAD_PARAM_COUNT):
 *   1 SET_WEIGHTS  P floats                         -> nothing
 *   2 GET_WEIGHTS                                   -> P floats
 *   3 INFER        u32 n, n*F floats                -> n*C floats
 *   4 TRAIN        u32 n, f32 rate, n*F, n*C floats -> f32 loss, u32 status (head_step_status)
 *   5 SAVE         u32 bytes the storage accepts before a simulated power loss (0xFFFFFFFF: all)
 *                                                   -> u32 status, u32 active slot, u32 sequence
 *   6 LOAD                                          -> u32 status, u32 active slot, u32 sequence,
 *                                                      u32 status of slot 0, u32 status of slot 1
 *   7 COUNTERS                                      -> u32 rolled-back steps
 *   8 INIT         (the bundle's weights again)     -> nothing
 * stdout: "HAR train <k> batch <n> instructions <count>" per TRAIN, "HAR infer instructions <count>"
 * per INFER window, "HAR ram ..." and "HAR done". */
#include <stdio.h>

#include "checkpoint.h"
#include "har_board.h"
#include "head.h"
#include "head_io.h"

enum { CMD_SET_WEIGHTS = 1, CMD_GET_WEIGHTS, CMD_INFER, CMD_TRAIN, CMD_SAVE, CMD_LOAD, CMD_COUNTERS, CMD_INIT };

static float batch_features[HEAD_MAX_BATCH * HEAD_FEATURES]; /* the mini-batch features cache */
static float batch_onehot[HEAD_MAX_BATCH * HEAD_CLASSES];
static float probabilities[HEAD_CLASSES];

static void write_state(FILE *out, head_ckpt_status status, const head_ckpt_state *state, int with_slots)
{
    const uint32_t reply[5] = {(uint32_t)status, (uint32_t)state->active_slot, state->active_sequence,
                               (uint32_t)state->slot_status[0], (uint32_t)state->slot_status[1]};
    head_io_write(out, reply, (with_slots ? 5u : 3u) * sizeof reply[0]);
}

static uint32_t read_batch(FILE *in)
{
    const uint32_t n = head_io_read_u32(in);
    if (n == 0 || n > HEAD_MAX_BATCH) {
        head_io_fail("batch size out of range");
    }
    return n;
}

static void train(FILE *in, FILE *out, uint32_t step)
{
    const uint32_t n = read_batch(in);
    float rate;
    head_io_read(in, &rate, sizeof rate);
    head_io_read(in, batch_features, n * HEAD_FEATURES * sizeof(float));
    head_io_read(in, batch_onehot, n * HEAD_CLASSES * sizeof(float));
    const uint64_t before = har_board_instructions();
    const float loss = head_train_step(batch_features, batch_onehot, n, rate);
    const uint64_t used = har_board_instructions() - before;
    const uint32_t status = (uint32_t)head_last_step_status();
    printf("HAR train %lu batch %lu instructions %llu\n", (unsigned long)step, (unsigned long)n,
           (unsigned long long)used);
    head_io_write(out, &loss, sizeof loss);
    head_io_write(out, &status, sizeof status);
}

static void infer(FILE *in, FILE *out)
{
    const uint32_t n = head_io_read_u32(in);
    for (uint32_t s = 0; s < n; s++) {
        head_io_read(in, batch_features, HEAD_FEATURES * sizeof(float));
        const uint64_t before = har_board_instructions();
        head_infer(batch_features, probabilities);
        printf("HAR infer instructions %llu\n", (unsigned long long)(har_board_instructions() - before));
        head_io_write(out, probabilities, sizeof probabilities);
    }
}

int main(void)
{
    har_board_init();
    head_init();
    FILE *in = fopen("har_head_in.bin", "rb");
    FILE *out = fopen("har_head_out.bin", "wb");
    head_file_storage slots = {fopen("har_ckpt.bin", "r+b"), UINT32_MAX};
    if (in == NULL || out == NULL || slots.file == NULL) {
        head_io_fail("cannot open har_head_in.bin, har_head_out.bin or har_ckpt.bin");
    }
    const head_storage storage = head_io_storage(&slots);
    head_ckpt_state state;
    head_ckpt_scan(&storage, &state);
    uint32_t opcode, steps = 0;
    while (fread(&opcode, sizeof opcode, 1, in) == 1) {
        if (opcode == CMD_SET_WEIGHTS) {
            head_io_read(in, head_parameters(), HEAD_PARAM_COUNT * sizeof(float));
        } else if (opcode == CMD_GET_WEIGHTS) {
            head_io_write(out, head_parameters(), HEAD_PARAM_COUNT * sizeof(float));
        } else if (opcode == CMD_INFER) {
            infer(in, out);
        } else if (opcode == CMD_TRAIN) {
            train(in, out, steps++);
        } else if (opcode == CMD_SAVE) {
            slots.budget = head_io_read_u32(in);
            write_state(out, head_ckpt_save(&storage, &state), &state, 0);
            slots.budget = UINT32_MAX;
        } else if (opcode == CMD_LOAD) {
            write_state(out, head_ckpt_load(&storage, &state), &state, 1);
        } else if (opcode == CMD_COUNTERS) {
            const uint32_t rolled_back = head_rolled_back_steps();
            head_io_write(out, &rolled_back, sizeof rolled_back);
        } else if (opcode == CMD_INIT) {
            head_init();
        } else {
            head_io_fail("unknown command");
        }
    }
    fclose(out);
    fclose(slots.file);
    printf("HAR ram head_bytes %lu batch_cache_bytes %lu\n", (unsigned long)HEAD_RAM_BYTES,
           (unsigned long)HEAD_BATCH_CACHE_BYTES);
    printf("HAR stack_bytes %lu\n", (unsigned long)har_board_stack_high_water());
    printf("HAR done steps=%lu\n", (unsigned long)steps);
    har_board_exit(0);
    return 0;
}
