/* Two-slot head checkpoints (layout and commit protocol in checkpoint.h). */
#include "checkpoint.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the checkpoint payload is the parameters' memory: a little-endian target is required"
#endif

static const uint8_t magic[4] = {'H', 'H', 'C', 'K'};
#define PAYLOAD_BYTES (4u * (uint32_t)HEAD_PARAM_COUNT)
#define TRAILER_OFFSET (HEAD_CKPT_HEADER_BYTES + PAYLOAD_BYTES)
#define CHUNK_FLOATS 16u

typedef char slot_holds_a_checkpoint[HEAD_SLOT_BYTES >= TRAILER_OFFSET + 4u ? 1 : -1];

uint32_t head_crc32(uint32_t crc, const void *data, uint32_t size)
{
    /* Half-byte table: 64 bytes of flash, two lookups per byte. */
    static const uint32_t nibble[16] = {
        0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
        0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
    };
    const uint8_t *bytes = data;
    crc = ~crc;
    for (uint32_t k = 0; k < size; k++) {
        crc ^= bytes[k];
        crc = (crc >> 4) ^ nibble[crc & 0xFu];
        crc = (crc >> 4) ^ nibble[crc & 0xFu];
    }
    return ~crc;
}

static void put_u16(uint8_t *at, uint16_t value)
{
    at[0] = (uint8_t)value;
    at[1] = (uint8_t)(value >> 8);
}

static void put_u32(uint8_t *at, uint32_t value)
{
    put_u16(at, (uint16_t)value);
    put_u16(at + 2, (uint16_t)(value >> 16));
}

static uint32_t get_u32(const uint8_t *at)
{
    return (uint32_t)at[0] | (uint32_t)at[1] << 8 | (uint32_t)at[2] << 16 | (uint32_t)at[3] << 24;
}

static uint16_t get_u16(const uint8_t *at) { return (uint16_t)(at[0] | at[1] << 8); }

static void encode_header(uint8_t *header, uint32_t sequence)
{
    memset(header, 0, HEAD_CKPT_HEADER_BYTES);
    memcpy(header, magic, sizeof magic);
    put_u16(header + 4, HEAD_CKPT_VERSION);
    put_u16(header + 6, HEAD_CKPT_HEADER_BYTES);
    put_u32(header + 8, sequence);
    put_u32(header + 12, HEAD_FEATURES);
    put_u32(header + 16, HEAD_HIDDEN);
    put_u32(header + 20, HEAD_CLASSES);
    put_u32(header + 24, PAYLOAD_BYTES);
    put_u32(header + 28, HEAD_LABELS_CRC32);
    memcpy(header + 32, head_base_sha256, 32);
    memcpy(header + 64, head_head_sha256, 32);
}

static head_ckpt_status check_header(const uint8_t *header)
{
    if (memcmp(header, magic, sizeof magic) != 0) {
        return HEAD_CKPT_EMPTY;
    }
    if (get_u16(header + 4) != HEAD_CKPT_VERSION || get_u16(header + 6) != HEAD_CKPT_HEADER_BYTES) {
        return HEAD_CKPT_BAD_HEADER;
    }
    if (get_u32(header + 12) != HEAD_FEATURES || get_u32(header + 16) != HEAD_HIDDEN
        || get_u32(header + 20) != HEAD_CLASSES || get_u32(header + 24) != PAYLOAD_BYTES) {
        return HEAD_CKPT_WRONG_SHAPE;
    }
    if (get_u32(header + 28) != HEAD_LABELS_CRC32 || memcmp(header + 32, head_base_sha256, 32) != 0
        || memcmp(header + 64, head_head_sha256, 32) != 0) {
        return HEAD_CKPT_WRONG_MODEL;
    }
    return HEAD_CKPT_OK;
}

/* Verify one slot without loading it: header, then CRC and finiteness over the payload in chunks. */
static head_ckpt_status check_slot(const head_storage *storage, int slot, uint32_t *sequence)
{
    const uint32_t base = (uint32_t)slot * HEAD_SLOT_BYTES;
    uint8_t header[HEAD_CKPT_HEADER_BYTES];
    if (storage->read(storage->context, base, header, sizeof header) != 0) {
        return HEAD_CKPT_IO_ERROR;
    }
    const head_ckpt_status status = check_header(header);
    if (status != HEAD_CKPT_OK) {
        return status;
    }
    uint32_t crc = head_crc32(0, header, sizeof header);
    bool finite = true;
    float chunk[CHUNK_FLOATS];
    for (uint32_t done = 0; done < PAYLOAD_BYTES; done += sizeof chunk) {
        const uint32_t size = PAYLOAD_BYTES - done < sizeof chunk ? PAYLOAD_BYTES - done : sizeof chunk;
        if (storage->read(storage->context, base + HEAD_CKPT_HEADER_BYTES + done, chunk, size) != 0) {
            return HEAD_CKPT_IO_ERROR;
        }
        crc = head_crc32(crc, chunk, size);
        for (uint32_t k = 0; k < size / 4u; k++) {
            finite = finite && isfinite(chunk[k]);
        }
    }
    uint8_t trailer[4];
    if (storage->read(storage->context, base + TRAILER_OFFSET, trailer, sizeof trailer) != 0) {
        return HEAD_CKPT_IO_ERROR;
    }
    if (get_u32(trailer) != crc) {
        return HEAD_CKPT_BAD_CRC;
    }
    *sequence = get_u32(header + 8);
    return finite ? HEAD_CKPT_OK : HEAD_CKPT_NOT_FINITE;
}

static bool newer(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

void head_ckpt_scan(const head_storage *storage, head_ckpt_state *state)
{
    state->active_slot = -1;
    state->active_sequence = 0;
    for (int slot = 0; slot < HEAD_CKPT_SLOT_COUNT; slot++) {
        state->slot_sequence[slot] = 0;
        state->slot_status[slot] = check_slot(storage, slot, &state->slot_sequence[slot]);
        if (state->slot_status[slot] == HEAD_CKPT_OK
            && (state->active_slot < 0 || newer(state->slot_sequence[slot], state->active_sequence))) {
            state->active_slot = slot;
            state->active_sequence = state->slot_sequence[slot];
        }
    }
}

head_ckpt_status head_ckpt_load(const head_storage *storage, head_ckpt_state *state)
{
    head_ckpt_scan(storage, state);
    if (state->active_slot < 0) {
        return HEAD_CKPT_NO_VALID_SLOT;
    }
    const uint32_t offset = (uint32_t)state->active_slot * HEAD_SLOT_BYTES + HEAD_CKPT_HEADER_BYTES;
    /* Verified above; a read failing now (storage fault between the passes) leaves the weights partly
     * copied, which the caller sees as HEAD_CKPT_IO_ERROR and should answer with head_init(). */
    if (storage->read(storage->context, offset, head_parameters(), PAYLOAD_BYTES) != 0) {
        return HEAD_CKPT_IO_ERROR;
    }
    return HEAD_CKPT_OK;
}

head_ckpt_status head_ckpt_save(const head_storage *storage, head_ckpt_state *state)
{
    const int target = state->active_slot == 0 ? 1 : 0;
    const uint32_t sequence = state->active_slot < 0 ? 1u : state->active_sequence + 1u;
    const uint32_t base = (uint32_t)target * HEAD_SLOT_BYTES;
    uint8_t header[HEAD_CKPT_HEADER_BYTES];
    encode_header(header, sequence);
    const uint32_t crc = head_crc32(head_crc32(0, header, sizeof header), head_parameters(), PAYLOAD_BYTES);
    uint8_t trailer[4];
    put_u32(trailer, crc);
    if (storage->write(storage->context, base, header, sizeof header) != 0
        || storage->write(storage->context, base + HEAD_CKPT_HEADER_BYTES, head_parameters(), PAYLOAD_BYTES) != 0
        || storage->write(storage->context, base + TRAILER_OFFSET, trailer, sizeof trailer) != 0) {
        return HEAD_CKPT_IO_ERROR;
    }
    uint32_t written = 0;
    const head_ckpt_status status = check_slot(storage, target, &written);
    state->slot_status[target] = status;
    state->slot_sequence[target] = written;
    if (status != HEAD_CKPT_OK || written != sequence) {
        return status != HEAD_CKPT_OK ? status : HEAD_CKPT_BAD_CRC;
    }
    state->active_slot = target;
    state->active_sequence = sequence;
    return HEAD_CKPT_OK;
}
