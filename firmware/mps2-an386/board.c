/* har_board.h for the MPS2 AN386 (Cortex-M4F) under QEMU with `-icount shift=0`.
 *
 * Instruction count: with -icount shift=0 QEMU's virtual clock advances 1 ns per guest instruction and
 * the board's 25 MHz SysTick (processor clock source) decrements once per 40 ns, i.e. once every
 * HAR_INSTRUCTIONS_PER_TICK = 40 instructions, identically on every run. The 24-bit counter runs from
 * 0xFFFFFF down; its wrap interrupt counts the high bits, so the 64-bit count never wraps in practice.
 * Resolution: 40 instructions (a difference of two readings is exact to +-40). Without -icount the
 * figures are host-speed dependent and meaningless.
 *
 * Stack: startup paints the stack reserve (linker.ld: HAR_STACK_BYTES below the top of RAM) before
 * main; the high-water mark is the distance from the top of RAM to the lowest word no longer holding
 * the pattern. A reserve overwritten to its bottom reads as the whole reserve (an overflow is "at
 * least" that much). har_board_stack_mark() repaints below the caller's stack pointer so that
 * har_board_stack_since_mark() reads the stack used below that point since (e.g. by one inference);
 * it reads at least MARK_MARGIN_WORDS * 4 bytes. An exception taken meanwhile (SysTick's wrap, once per
 * ~671 M instructions) adds its frame, as it would on the real part. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "har_board.h"
#include "board_internal.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYST_CSR_ENABLE_TICKINT_CPUCLK 0x7u
#define SYST_RELOAD 0x00FFFFFFu
#define HAR_INSTRUCTIONS_PER_TICK 40u
#define STACK_PAINT 0xA5C3E187u
#define STACK_PAINT_MARGIN_WORDS 16u /* left unpainted below the reset handler's painter */
#define MARK_MARGIN_WORDS 2u         /* left unpainted below a mark: the resolution of since_mark */

extern uint32_t __stack_limit, __stack_top;

static volatile uint32_t systick_wraps;
static uint32_t *stack_mark;
static uint32_t high_water_before_mark; /* a mark repaints: keep what was used before it */

void SysTick_Handler(void);
void SysTick_Handler(void) { systick_wraps++; }

void har_board_init(void)
{
    if ((SYST_CSR & SYST_CSR_ENABLE_TICKINT_CPUCLK) == SYST_CSR_ENABLE_TICKINT_CPUCLK) {
        return; /* already counting: started by the reset handler */
    }
    SYST_RVR = SYST_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = SYST_CSR_ENABLE_TICKINT_CPUCLK;
}

uint64_t har_board_instructions(void)
{
    uint32_t wraps, value;
    do { /* a wrap between the two reads shows as a changed wrap count: read again */
        wraps = systick_wraps;
        value = SYST_CVR;
    } while (wraps != systick_wraps);
    uint64_t ticks = ((uint64_t)wraps << 24) + (SYST_RELOAD - value);
    return ticks * HAR_INSTRUCTIONS_PER_TICK;
}

static uint32_t *stack_pointer(void)
{
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

static void paint_stack_below(uint32_t *top)
{
    for (uint32_t *word = &__stack_limit; word < top; word++) {
        *word = STACK_PAINT;
    }
}

static const uint32_t *lowest_used_word(void)
{
    const uint32_t *word = &__stack_limit;
    while (word < &__stack_top && *word == STACK_PAINT) {
        word++;
    }
    return word;
}

void board_paint_stack(void) { paint_stack_below(stack_pointer() - STACK_PAINT_MARGIN_WORDS); }

uint32_t har_board_stack_high_water(void)
{
    uint32_t now = (uint32_t)((uintptr_t)&__stack_top - (uintptr_t)lowest_used_word());
    return now > high_water_before_mark ? now : high_water_before_mark;
}

uint32_t har_board_stack_mark(void)
{
    high_water_before_mark = har_board_stack_high_water();
    stack_mark = stack_pointer();
    paint_stack_below(stack_mark - MARK_MARGIN_WORDS);
    return (uint32_t)((uintptr_t)&__stack_top - (uintptr_t)stack_mark);
}

uint32_t har_board_stack_since_mark(void)
{
    const uint32_t *lowest = lowest_used_word();
    if (stack_mark == 0 || lowest >= stack_mark) {
        return 0;
    }
    return (uint32_t)((uintptr_t)stack_mark - (uintptr_t)lowest);
}

void har_board_exit(int code)
{
    fflush(stdout);
    fflush(stderr);
    exit(code); /* newlib rdimon: semihosting SYS_EXIT_EXTENDED, QEMU exits with `code` */
}
