/* The host "board": plain C on the build machine, for parity tests. No counters. */
#include <stdlib.h>

#include "har_board.h"

void har_board_init(void) {}

uint64_t har_board_instructions(void) { return 0; }

uint32_t har_board_stack_high_water(void) { return 0; }

void har_board_exit(int code) { exit(code); }

uint32_t har_board_stack_mark(void) { return 0; }

uint32_t har_board_stack_since_mark(void) { return 0; }
