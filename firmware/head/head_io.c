/* File I/O shared by the head harnesses (see head_io.h). */
#include "head_io.h"

#include "har_board.h"

void head_io_fail(const char *what)
{
    printf("HAR error %s\n", what);
    har_board_exit(2);
}

void head_io_read(FILE *in, void *data, size_t size)
{
    if (fread(data, 1, size, in) != size) {
        head_io_fail("truncated input file");
    }
}

uint32_t head_io_read_u32(FILE *in)
{
    uint32_t value;
    head_io_read(in, &value, sizeof value);
    return value;
}

void head_io_write(FILE *out, const void *data, size_t size)
{
    if (fwrite(data, 1, size, out) != size) {
        head_io_fail("cannot write the output file");
    }
}

static int storage_read(void *context, uint32_t offset, void *data, uint32_t size)
{
    FILE *file = ((head_file_storage *)context)->file;
    return fseek(file, (long)offset, SEEK_SET) != 0 || fread(data, 1, size, file) != size;
}

static int storage_write(void *context, uint32_t offset, const void *data, uint32_t size)
{
    head_file_storage *storage = context;
    const uint32_t accepted = size < storage->budget ? size : storage->budget;
    storage->budget -= accepted;
    if (fseek(storage->file, (long)offset, SEEK_SET) != 0
        || fwrite(data, 1, accepted, storage->file) != accepted || fflush(storage->file) != 0) {
        return 1;
    }
    return accepted != size;
}

head_storage head_io_storage(head_file_storage *file)
{
    const head_storage storage = {storage_read, storage_write, file};
    return storage;
}
