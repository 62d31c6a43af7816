# The example for the MPS2 AN386 (Cortex-M4F), run under QEMU with semihosting. From the library's folder:
#   make -f boards/mps2-an386/Makefile        -> build/mps2-an386/example.elf + example.map
#   make -f boards/mps2-an386/Makefile run    -> runs it in qemu-system-arm (-icount shift=0)
# The library (src/) is compiled with the board's flags; the map names the object of every section, so
# the library's own flash and RAM can be told apart from the example's, the board's and printf's.
CC      := arm-none-eabi-gcc
QEMU    := qemu-system-arm
BOARD   := boards/mps2-an386
OUT     := build/mps2-an386
ARCH    := -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard
# -ffp-contract=off: the float math must not be fused into multiply-adds (parity with the host)
CFLAGS  := $(ARCH) -O2 -std=c11 -Wall -Wextra -Werror -ffp-contract=off -ffunction-sections -fdata-sections \
           -DHAR_EDGE_BOARD_REPORT -Isrc -Iexamples/stream -I$(BOARD) $(CFLAGS_EXTRA)
SOURCES := $(sort $(wildcard src/*.c)) $(sort $(wildcard examples/stream/*.c)) $(BOARD)/startup.c $(BOARD)/board.c
OBJECTS := $(patsubst %.c,$(OUT)/%.o,$(SOURCES))
ELF     := $(OUT)/example.elf
LDFLAGS := $(ARCH) -nostartfiles --specs=rdimon.specs -Wl,--gc-sections -Wl,-Map=$(OUT)/example.map \
           -T $(BOARD)/linker.ld

$(ELF): $(OBJECTS) $(BOARD)/linker.ld
	$(CC) $(LDFLAGS) $(OBJECTS) -lm -lrdimon -o $@

$(OUT)/%.o: %.c $(wildcard src/*.h examples/stream/*.h $(BOARD)/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

run: $(ELF)
	$(QEMU) -M mps2-an386 -nographic -monitor none -semihosting -icount shift=0 -kernel $(ELF)

clean:
	rm -rf $(OUT)

.PHONY: run clean
