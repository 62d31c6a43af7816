/* Board bring-up program for tests/test_firmware_board.py (mps2-an386 under QEMU).
 * Reads har_in.bin = {exit code, stack KiB to touch, payload...}; writes the payload reversed to
 * har_out.bin; prints, one fact a line:
 *   HAR spin <n> instructions <count>   a 2-instruction loop (subs/bne) run n times
 *   HAR stack_bytes <before> <after> <since_mark>
 *                                       high-water mark before/after touching <stack KiB>, and the
 *                                       stack used below a mark set just before touching it
 * and returns the requested exit code; exit code 255 asks for an undefined instruction instead (the
 * board's fault handler reports it). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "har_board.h"

#define MAX_PAYLOAD 256

static void spin(uint32_t n)
{
    __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
}

__attribute__((noinline)) static uint32_t touch_stack(uint32_t kib)
{
    volatile uint8_t block[1024];
    memset((void *)block, (int)kib, sizeof block);
    return block[kib % sizeof block] + (kib > 1 ? touch_stack(kib - 1) : 0u);
}

int main(void)
{
    har_board_init();
    uint8_t request[2 + MAX_PAYLOAD];
    FILE *in = fopen("har_in.bin", "rb");
    if (in == NULL) {
        printf("HAR error no har_in.bin\n");
        return 2;
    }
    size_t got = fread(request, 1, sizeof request, in);
    fclose(in);
    if (got < 2) {
        printf("HAR error short har_in.bin\n");
        return 2;
    }
    if (request[0] == 255) {
        __builtin_trap();
    }
    for (uint32_t n = 1000; n <= 1000000; n *= 10) {
        uint64_t start = har_board_instructions();
        spin(n);
        uint64_t stop = har_board_instructions();
        printf("HAR spin %lu instructions %llu\n", (unsigned long)n, (unsigned long long)(stop - start));
    }
    uint32_t before = har_board_stack_high_water();
    har_board_stack_mark();
    uint32_t touched = request[1] ? touch_stack(request[1]) : 0u;
    uint32_t since_mark = har_board_stack_since_mark();
    printf("HAR stack_bytes %lu %lu %lu (%lu)\n", (unsigned long)before,
           (unsigned long)har_board_stack_high_water(), (unsigned long)since_mark, (unsigned long)touched);
    uint8_t reversed[MAX_PAYLOAD];
    size_t payload = got - 2;
    for (size_t i = 0; i < payload; i++) {
        reversed[i] = request[2 + payload - 1 - i];
    }
    FILE *out = fopen("har_out.bin", "wb");
    if (out == NULL || fwrite(reversed, 1, payload, out) != payload || fclose(out) != 0) {
        printf("HAR error writing har_out.bin\n");
        return 2;
    }
    return request[0];
}
