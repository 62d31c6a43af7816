# The example for the MPS2 AN386 (Cortex-M4F), run under QEMU with semihosting. From the library's folder:
#   make -f boards/mps2-an386/Makefile        -> build/mps2-an386-m4/example.elf + example.map
#   make -f boards/mps2-an386/Makefile run    -> runs it in qemu-system-arm (-icount shift=0)
# Other cores QEMU emulates: MACHINE=mps2-an385 CORE=m3 (Cortex-M3, no FPU), MACHINE=mps2-an500 CORE=m7
# (Cortex-M7, FPv5), MACHINE=mps2-an505 CORE=m33 (Cortex-M33, secure state; its own memory map).
#   make -f boards/mps2-an386/Makefile library CORE=m0plus   -> the library's objects only (Cortex-M0+)
# The library (src/) is compiled with the board's flags; the map names the object of every section, so
# the library's own flash and RAM can be told apart from the example's, the board's and printf's.
CC      := arm-none-eabi-gcc
QEMU    := qemu-system-arm
BOARD   := boards/mps2-an386
MACHINE ?= mps2-an386
CORE    ?= m4
OUT     := build/$(MACHINE)-$(CORE)
ARCH_m4 := -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard
ARCH_m3 := -mcpu=cortex-m3 -mthumb -mfloat-abi=soft
ARCH_m7 := -mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard
ARCH_m33 := -mcpu=cortex-m33 -mthumb -mfpu=fpv5-sp-d16 -mfloat-abi=hard
ARCH_m0plus := -mcpu=cortex-m0plus -mthumb -mfloat-abi=soft
ARCH    := $(ARCH_$(CORE))
LINKER  := $(if $(filter mps2-an505,$(MACHINE)),$(BOARD)/linker_an505.ld,$(BOARD)/linker.ld)
# -ffp-contract=off: the float math must not be fused into multiply-adds (parity with the host)
CFLAGS  := $(ARCH) -O2 -std=c11 -Wall -Wextra -Werror -ffp-contract=off -ffunction-sections -fdata-sections \
           -DHAR_EDGE_BOARD_REPORT -Isrc -Iexamples/stream -I$(BOARD) $(CFLAGS_EXTRA)
SOURCES := $(sort $(wildcard src/*.c)) $(sort $(wildcard examples/stream/*.c)) $(BOARD)/startup.c $(BOARD)/board.c
OBJECTS := $(patsubst %.c,$(OUT)/%.o,$(SOURCES))
ELF     := $(OUT)/example.elf
LDFLAGS := $(ARCH) -nostartfiles --specs=rdimon.specs -Wl,--gc-sections -Wl,-Map=$(OUT)/example.map \
           -T $(LINKER)

$(ELF): $(OBJECTS) $(LINKER)
	$(CC) $(LDFLAGS) $(OBJECTS) -lm -lrdimon -o $@

$(OUT)/%.o: %.c $(wildcard src/*.h examples/stream/*.h $(BOARD)/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

library: $(patsubst %.c,$(OUT)/%.o,$(sort $(wildcard src/*.c)))

run: $(ELF)
	$(QEMU) -M $(MACHINE) -nographic -monitor none -semihosting -icount shift=0 -kernel $(ELF)

clean:
	rm -rf $(OUT)

.PHONY: library run clean
