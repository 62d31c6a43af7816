/* Reset and exception entry for the MPS2 AN386 (Cortex-M4F) under QEMU.
 *
 * Reset_Handler: copy .data from flash, zero .bss, enable the FPU (CPACR CP10/CP11 full access), paint
 * the stack reserve (board.c reads its high-water mark), open the semihosting stdio handles, start the
 * SysTick instruction counter (har_board_init, idempotent), run main() and exit through semihosting with main's return code.
 * A fault prints its name over semihosting and exits with code 3 instead of hanging the emulator. */
#include <stdint.h>
#include <stdlib.h>

#include "har_board.h"
#include "board_internal.h"

extern uint32_t __data_start, __data_end, __data_load, __bss_start, __bss_end, __stack_top;
extern unsigned int __heap_limit; /* newlib rdimon: sbrk's upper bound, unset without its crt0 */
extern uint32_t __stack_limit;
extern void initialise_monitor_handles(void);
extern int main(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define SEMIHOSTING_SYS_WRITE0 0x04

void Reset_Handler(void);
void SysTick_Handler(void);
void _init(void);
void _fini(void);

/* newlib's exit() and constructors call these; the C runtime here has nothing to run in them (linked
 * with -nostartfiles, so crti.o does not provide them). */
void _init(void) {}
void _fini(void) {}

static void semihosting_write0(const char *text)
{
    register uint32_t operation __asm__("r0") = SEMIHOSTING_SYS_WRITE0;
    register const char *argument __asm__("r1") = text;
    __asm__ volatile("bkpt 0xAB" : "+r"(operation) : "r"(argument) : "memory");
}

static void fault(const char *name)
{
    semihosting_write0("HAR fault ");
    semihosting_write0(name);
    semihosting_write0("\n");
    _Exit(3);
}

static void nmi_handler(void) { fault("NMI"); }
static void hard_fault_handler(void) { fault("HardFault"); }
static void mem_manage_handler(void) { fault("MemManage"); }
static void bus_fault_handler(void) { fault("BusFault"); }
static void usage_fault_handler(void) { fault("UsageFault"); }
static void unexpected_handler(void) { fault("unexpected exception"); }

typedef void (*vector_t)(void);

/* Core exceptions only: this board's firmware uses no peripheral interrupts. */
__attribute__((section(".vectors"), used)) static const vector_t vector_table[16] = {
    (vector_t)(uintptr_t)&__stack_top,
    Reset_Handler,
    nmi_handler,
    hard_fault_handler,
    mem_manage_handler,
    bus_fault_handler,
    usage_fault_handler,
    0, 0, 0, 0,
    unexpected_handler, /* SVCall */
    unexpected_handler, /* DebugMonitor */
    0,
    unexpected_handler, /* PendSV */
    SysTick_Handler,
};

void Reset_Handler(void)
{
    const uint32_t *from = &__data_load;
    for (uint32_t *to = &__data_start; to < &__data_end;) {
        *to++ = *from++;
    }
    for (uint32_t *to = &__bss_start; to < &__bss_end;) {
        *to++ = 0;
    }
    SCB_CPACR |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    __heap_limit = (unsigned int)(uintptr_t)&__stack_limit;
    board_paint_stack();
    initialise_monitor_handles();
    har_board_init();
    har_board_exit(main());
}
