/* Example: a simulated accelerometer fills a ring buffer of int16 counts one second at a time (as a FIFO
 * interrupt would); the main loop drains it in chunks of up to DRAIN samples (at most a hop), scales the counts to the
 * bundle's units and pushes them into a harlib stream, printing every window's label and every event.
 * The samples are a synthetic recording (harlib_recording.c, generated with the library).
 *
 * Output, one line each:
 *   window INDEX END_SAMPLE LABEL SMOOTHED_PROBABILITY
 *   event enter|exit LABEL WINDOW_INDEX END_SAMPLE PROBABILITY
 *   done WINDOWS EVENTS */
#include <stdint.h>
#include <stdio.h>

#include "harlib.h"
#include "harlib_recording.h"

#ifdef HAR_EDGE_BOARD_REPORT /* the mps2-an386 build: the stack the library used, from the board */
#include "har_board.h"
#endif

#define RING (2u * HARLIB_RECORDING_SECOND) /* the sensor ring: room for two bursts */
#define DRAIN (HARLIB_HOP < 32u ? HARLIB_HOP : 32u) /* at most one window per chunk */

static int16_t sensor_ring[RING][HARLIB_CHANNELS];
static uint32_t ring_head, ring_tail; /* written / read sample counts */
static uint32_t recording_position;
static uint32_t n_events;

/* The "interrupt": the sensor delivers up to one second of samples. */
static void sensor_burst(void)
{
    for (uint32_t i = 0; i < HARLIB_RECORDING_SECOND && recording_position < HARLIB_RECORDING_SAMPLES; ++i) {
        for (uint32_t c = 0; c < HARLIB_CHANNELS; ++c) {
            sensor_ring[ring_head % RING][c] = harlib_recording[recording_position * HARLIB_CHANNELS + c];
        }
        ring_head++;
        recording_position++;
    }
}

static void on_window(void *user, const harlib_window_t *window)
{
    (void)user;
    printf("window %u %u %s %.6f\n", (unsigned)window->index, (unsigned)window->end_sample,
           harlib_labels[window->label], (double)window->smoothed[window->label]);
    for (uint32_t e = 0; e < window->n_events; ++e) {
        const harlib_event_t *event = &window->events[e];
        printf("event %s %s %u %u %.6f\n", event->kind == HARLIB_EVENT_ENTER ? "enter" : "exit",
               harlib_labels[event->class_index], (unsigned)window->index, (unsigned)window->end_sample,
               (double)event->probability);
        n_events++;
    }
}

int main(void)
{
    static harlib_stream_t stream;
    harlib_event_rule_t rules[HARLIB_CLASSES];
    for (uint32_t k = 0; k < HARLIB_CLASSES; ++k) {
        rules[k] = (harlib_event_rule_t){k, HARLIB_EXAMPLE_ENTER, HARLIB_EXAMPLE_EXIT, HARLIB_EXAMPLE_WINDOWS};
    }
    if (harlib_stream_init(&stream, HARLIB_EXAMPLE_ALPHA, rules, HARLIB_CLASSES) != 0) return 2;
    float chunk[DRAIN * HARLIB_CHANNELS];
#ifdef HAR_EDGE_BOARD_REPORT
    uint32_t stack_bytes = 0;
#endif
    while (ring_tail < HARLIB_RECORDING_SAMPLES) {
        sensor_burst();
        while (ring_tail < ring_head) {
            uint32_t n = 0;
            for (; n < DRAIN && ring_tail < ring_head; ++n, ++ring_tail) {
                for (uint32_t c = 0; c < HARLIB_CHANNELS; ++c) {
                    chunk[n * HARLIB_CHANNELS + c] = (float)sensor_ring[ring_tail % RING][c] * harlib_recording_scale;
                }
            }
#ifdef HAR_EDGE_BOARD_REPORT
            har_board_stack_mark();
            const int pushed = harlib_stream_push(&stream, chunk, n, NULL, NULL);
            const uint32_t used = har_board_stack_since_mark();
            stack_bytes = used > stack_bytes ? used : stack_bytes;
            if (pushed > 0) on_window(NULL, &stream.last); /* stack measured without printf */
#else
            const int pushed = harlib_stream_push(&stream, chunk, n, on_window, NULL);
#endif
            if (pushed < 0) return 1;
        }
    }
    printf("done %u %u\n", (unsigned)stream.windows_done, (unsigned)n_events);
#ifdef HAR_EDGE_BOARD_REPORT
    printf("stack_bytes %u\nstream_bytes %u\n", (unsigned)stack_bytes, (unsigned)sizeof(stream));
#endif
    return 0;
}
