/* harlib_stream: samples in any chunk size -> one classified window every HARLIB_HOP samples, smoothed by
 * an exponential average and turned into hysteresis events, with the arithmetic of the host's
 * StreamingClassifier (har_edge/runtime/stream.py): window k covers samples k * HOP .. k * HOP + WINDOW - 1;
 * smoothed = float(alpha) * p + float(1 - alpha) * smoothed in float32, starting from the first window;
 * an event rule counts consecutive windows past the threshold in play (> enter while inactive, < exit
 * while active) and flips when the count reaches its `windows`. The ring holds the last HARLIB_WINDOW
 * samples; nothing is allocated. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "harlib.h"

int harlib_stream_init(harlib_stream_t *stream, double alpha, const harlib_event_rule_t *rules, uint32_t n_rules)
{
    if (stream == NULL || !(alpha > 0.0 && alpha <= 1.0) || n_rules > HARLIB_MAX_RULES ||
        (n_rules > 0 && rules == NULL)) {
        return HARLIB_ERROR_ARGUMENT;
    }
    for (uint32_t r = 0; r < n_rules; ++r) {
        const harlib_event_rule_t *rule = &rules[r];
        if (rule->class_index >= HARLIB_CLASSES || rule->windows < 1 || !(rule->exit_probability >= 0.0f) ||
            !(rule->exit_probability <= rule->enter_probability) || !(rule->enter_probability <= 1.0f)) {
            return HARLIB_ERROR_ARGUMENT;
        }
    }
    memset(stream, 0, sizeof(*stream));
    stream->alpha = (float)alpha;
    stream->keep = (float)(1.0 - alpha);
    stream->n_rules = n_rules;
    if (n_rules > 0) memcpy(stream->rules, rules, n_rules * sizeof(rules[0]));
    return 0;
}

static void smooth(harlib_stream_t *stream, harlib_window_t *window)
{
    for (uint32_t j = 0; j < HARLIB_CLASSES; ++j) {
        const float p = window->probabilities[j];
        window->smoothed[j] = stream->windows_done == 0 ? p : stream->alpha * p + stream->keep * stream->last.smoothed[j];
    }
    window->label = harlib_argmax(window->smoothed);
}

static void raise_events(harlib_stream_t *stream, harlib_window_t *window)
{
    window->n_events = 0;
    for (uint32_t r = 0; r < stream->n_rules; ++r) {
        const harlib_event_rule_t *rule = &stream->rules[r];
        const float p = window->smoothed[rule->class_index];
        const int crossing = stream->active[r] ? p < rule->exit_probability : p > rule->enter_probability;
        stream->run[r] = crossing ? stream->run[r] + 1 : 0;
        if (stream->run[r] < rule->windows) continue;
        stream->active[r] = (uint8_t)!stream->active[r];
        stream->run[r] = 0;
        harlib_event_t *event = &window->events[window->n_events++];
        event->kind = stream->active[r] ? HARLIB_EVENT_ENTER : HARLIB_EVENT_EXIT;
        event->class_index = rule->class_index;
        event->probability = p;
    }
}

int harlib_stream_push(harlib_stream_t *stream, const float *samples, uint32_t n, harlib_window_callback on_window,
                       void *user)
{
    if (stream == NULL || (n > 0 && samples == NULL)) return HARLIB_ERROR_ARGUMENT;
    for (uint32_t i = 0; i < n * HARLIB_CHANNELS; ++i) {
        if (!isfinite(samples[i])) return HARLIB_ERROR_NOT_FINITE;
    }
    int completed = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t row = stream->samples_seen % HARLIB_WINDOW;
        memcpy(&stream->ring[row * HARLIB_CHANNELS], &samples[i * HARLIB_CHANNELS], HARLIB_CHANNELS * sizeof(float));
        stream->samples_seen++;
        if (stream->samples_seen < HARLIB_WINDOW || (stream->samples_seen - HARLIB_WINDOW) % HARLIB_HOP != 0) {
            continue;
        }
        harlib_window_t window;
        window.index = stream->windows_done;
        window.start_sample = stream->samples_seen - HARLIB_WINDOW;
        window.end_sample = stream->samples_seen;
        /* the oldest sample of the ring is the next one to be overwritten */
        (void)harlib_classify_ring(stream->ring, stream->samples_seen % HARLIB_WINDOW, window.probabilities);
        smooth(stream, &window);
        raise_events(stream, &window);
        stream->last = window;
        stream->windows_done++;
        completed++;
        if (on_window != NULL) on_window(user, &stream->last);
    }
    return completed;
}
