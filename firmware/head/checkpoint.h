/* Head checkpoints in two flash/EEPROM-style slots: write the inactive slot, then it wins.
 *
 * Slot layout (little-endian; HEAD_CKPT_HEADER_BYTES = 96, P = HEAD_PARAM_COUNT):
 *   0   4  magic "HHCK"
 *   4   2  format version (HEAD_CKPT_VERSION)
 *   6   2  header bytes (96)
 *   8   4  sequence number (the newest valid slot wins; compared modulo 2^32)
 *   12  4  features F        16  4  hidden H (0: one layer)       20  4  classes C
 *   24  4  payload bytes (4 P)
 *   28  4  CRC-32 of the class labels (UTF-8, joined by '\n')
 *   32  32 SHA-256 of the bundle's base.tflite
 *   64  32 SHA-256 of the bundle's head.tflite
 *   96  4P float32 parameters, in head_parameters() order (w0, b0[, w1, b1])
 *   96+4P 4 CRC-32 (IEEE 802.3, as zlib.crc32) of bytes [0, 96 + 4P)
 * Slot i starts at i * HEAD_SLOT_BYTES in the storage.
 *
 * Commit protocol: a save writes header, payload and, last, the CRC trailer into the slot that is not
 * the newest valid one, with the next sequence number. Until the trailer is written the slot's CRC does
 * not match, so a torn write (power lost mid-save) leaves that slot refused and the previous one
 * loading; the trailer write is the flip. On real flash, erase the slot's sectors before a save (an
 * erased slot reads as HEAD_CKPT_EMPTY). A load verifies magic, version, shapes, identity (base, head,
 * labels), CRC and that every parameter is finite in a first pass over the storage, and copies the
 * payload into the live weights only then: a refused slot never changes the weights. */
#ifndef HAR_HEAD_CHECKPOINT_H
#define HAR_HEAD_CHECKPOINT_H

#include <stdint.h>

#include "head.h"

#define HEAD_CKPT_VERSION 1u
#define HEAD_CKPT_HEADER_BYTES 96u
#define HEAD_CKPT_SLOT_COUNT 2

typedef enum {
    HEAD_CKPT_OK = 0,
    HEAD_CKPT_EMPTY = 1,         /* no magic: erased or never written */
    HEAD_CKPT_BAD_HEADER = 2,    /* unknown version or header size */
    HEAD_CKPT_WRONG_SHAPE = 3,   /* F, H, C or payload size differ from this firmware's head */
    HEAD_CKPT_WRONG_MODEL = 4,   /* base/head hash or labels differ */
    HEAD_CKPT_BAD_CRC = 5,       /* torn or corrupted */
    HEAD_CKPT_NOT_FINITE = 6,    /* a NaN/Inf parameter */
    HEAD_CKPT_IO_ERROR = 7,      /* the storage callback failed */
    HEAD_CKPT_NO_VALID_SLOT = 8  /* load: neither slot is valid */
} head_ckpt_status;

/* The storage: read/write `size` bytes at `offset` (0 on success). A write may stop short (a torn
 * write returns nonzero); the protocol above makes that safe. */
typedef struct {
    int (*read)(void *context, uint32_t offset, void *data, uint32_t size);
    int (*write)(void *context, uint32_t offset, const void *data, uint32_t size);
    void *context;
} head_storage;

/* What a scan found: each slot's status and sequence, the newest valid slot (-1: none). */
typedef struct {
    head_ckpt_status slot_status[HEAD_CKPT_SLOT_COUNT];
    uint32_t slot_sequence[HEAD_CKPT_SLOT_COUNT];
    int active_slot;
    uint32_t active_sequence;
} head_ckpt_state;

/* Validate both slots (nothing is loaded). */
void head_ckpt_scan(const head_storage *storage, head_ckpt_state *state);

/* Scan, then load the newest valid slot into head_parameters(); HEAD_CKPT_NO_VALID_SLOT leaves the
 * weights as they were. */
head_ckpt_status head_ckpt_load(const head_storage *storage, head_ckpt_state *state);

/* Write head_parameters() into the slot other than state->active_slot (slot 0 if none) with the next
 * sequence number, read it back, and on success make it the active slot in *state. */
head_ckpt_status head_ckpt_save(const head_storage *storage, head_ckpt_state *state);

/* CRC-32 (IEEE 802.3, reflected 0xEDB88320; start with crc = 0, as zlib.crc32). */
uint32_t head_crc32(uint32_t crc, const void *data, uint32_t size);

#endif
