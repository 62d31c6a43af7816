/* Board internals shared by startup.c and board.c (not part of the har_board.h interface). */
#ifndef HAR_MPS2_BOARD_INTERNAL_H
#define HAR_MPS2_BOARD_INTERNAL_H

/* Fill the stack reserve below the caller's frame with a pattern (called once, before main). */
void board_paint_stack(void);
/* (SysTick is started by har_board_init, which the reset handler calls before main.) */

#endif
