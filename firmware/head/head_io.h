/* File I/O shared by the head harnesses (stdio; semihosting on the board): exact reads and writes that
 * end the run with "HAR error ..." and exit code 2, and checkpoint storage backed by a file. */
#ifndef HAR_HEAD_IO_H
#define HAR_HEAD_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "checkpoint.h"

/* A file holding the two checkpoint slots; `budget` bytes are written before a simulated power loss
 * (UINT32_MAX: no loss), after which every write stops short and fails. */
typedef struct {
    FILE *file;
    uint32_t budget;
} head_file_storage;

void head_io_fail(const char *what);
void head_io_read(FILE *in, void *data, size_t size);
uint32_t head_io_read_u32(FILE *in);
void head_io_write(FILE *out, const void *data, size_t size);
/* The head_storage over `file` (opened "r+b", 2 * HEAD_SLOT_BYTES long). */
head_storage head_io_storage(head_file_storage *file);

#endif
