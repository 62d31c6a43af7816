/* What every board implements for the harness, and the per-layer hooks generated models call:
 * HAR_LAYER_BEGIN/END(i) count instructions per layer when HAR_PROFILE_LAYERS is defined, and
 * HAR_LAYER_OUTPUT(i, data, bytes) dumps each layer's output when HAR_DUMP_LAYERS is defined;
 * otherwise they compile to nothing. */
#ifndef HAR_BOARD_H
#define HAR_BOARD_H

#include <stdint.h>

void har_board_init(void);             /* FPU, counters, stack paint (board-specific) */
uint64_t har_board_instructions(void); /* monotonically increasing instruction count; 0 on host */
uint32_t har_board_stack_high_water(void); /* bytes of stack used so far; 0 if unknown */
void har_board_exit(int code);
uint32_t har_board_stack_mark(void);       /* repaint the stack below the caller; returns the mark */
uint32_t har_board_stack_since_mark(void); /* bytes of stack used below the mark since; 0 if unknown */

#ifdef HAR_PROFILE_LAYERS
void har_board_layer_begin(int layer);
void har_board_layer_end(int layer);
#define HAR_LAYER_BEGIN(i) har_board_layer_begin(i)
#define HAR_LAYER_END(i) har_board_layer_end(i)
#else
#define HAR_LAYER_BEGIN(i)
#define HAR_LAYER_END(i)
#endif

#ifdef HAR_DUMP_LAYERS
void har_dump_layer(int layer, const void *data, uint32_t bytes);
#define HAR_LAYER_OUTPUT(i, data, bytes) har_dump_layer(i, data, bytes)
#else
#define HAR_LAYER_OUTPUT(i, data, bytes)
#endif

#endif
