/* Micro-benchmarks for cycle_estimate.py --validate: one loop of one instruction class, ITER
 * iterations, bracketed by har_board_instructions() twice (a warm-up and the counted run, like an
 * inference). Build with -DMICRO_<NAME> -DITER=<n> against the mps2-an386 board files. Each loop body
 * is 8 instructions' worth of work + `subs` + `bne`; cycle_estimate.MICRO_EXPECTED holds the TRM's
 * cycles per iteration. */
#include <stdint.h>
#include <stdio.h>

#include "har_board.h"

#ifndef ITER
#define ITER 1000
#endif
#define STR2(x) #x
#define STR(x) STR2(x)
#define REP4(s) s s s s

#if defined(MICRO_ALU)
#define BODY REP4("add r1, r1, r2\n\t") REP4("add r1, r1, r2\n\t")
#elif defined(MICRO_SMLAD)
#define BODY REP4("smlad r1, r2, r3, r1\n\t") REP4("smlad r1, r2, r3, r1\n\t")
#elif defined(MICRO_LDR)
#define BODY "ldr r1, [r0]\n\tldr r2, [r0, #4]\n\tldr r3, [r0, #8]\n\tldr r4, [r0, #12]\n\t"
#elif defined(MICRO_STR)
#define BODY "str r1, [r0]\n\tstr r2, [r0, #4]\n\tstr r3, [r0, #8]\n\tstr r4, [r0, #12]\n\t"
#elif defined(MICRO_UDIV)
#define BODY REP4("udiv r1, r2, r3\n\t")
#elif defined(MICRO_LDM)
#define BODY "ldm r0, {r1, r2, r3, r4}\n\tldm r0, {r1, r2, r3, r4}\n\t"
#elif defined(MICRO_VMLA)
#define BODY REP4("vmla.f32 s0, s1, s2\n\t")
#else
#error "define one MICRO_<NAME>"
#endif

static uint32_t buffer[8];

static void __attribute__((noinline)) micro(void)
{
    __asm__ volatile(
        "mov r0, %0\n\t"
        "mov r2, #3\n\t"
        "mov r3, #1\n\t"
        "ldr r12, =" STR(ITER) "\n\t"
        "1:\n\t" BODY "subs r12, r12, #1\n\t"
        "bne 1b\n\t"
        :
        : "r"(buffer)
        : "r0", "r1", "r2", "r3", "r4", "r12", "s0", "s1", "s2", "cc", "memory");
}

int main(void)
{
    har_board_init();
    for (int i = 0; i < 2; ++i) {
        const uint64_t start = har_board_instructions();
        micro();
        const uint64_t end = har_board_instructions();
        printf("HAR inference %d instructions %lu\n", i, (unsigned long)(end - start));
    }
    har_board_exit(0);
    return 0;
}
