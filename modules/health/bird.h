/*
 * A client of BIRD's control socket (the protocol birdc speaks): the anycast prefixes live in static
 * protocols of BIRD's config, disabled there by default, and anyedge enables them to announce and
 * disables them to withdraw. Each call re-asserts the state, so a `birdc configure` (which re-applies
 * the file's `disabled`) or a BIRD restart is corrected at the next call. The connection is kept and
 * made again when BIRD went away.
 *
 * Blocking, with a deadline per call: the health thread and the `anyedge withdraw` command.
 */
#ifndef ANYEDGE_HEALTH_BIRD_H
#define ANYEDGE_HEALTH_BIRD_H

#include <stddef.h>
#include <stdint.h>

typedef struct ae_bird {
    const char *socket_path;
    int fd; /* -1 when not connected */
    char buf[4096];
    size_t buffered;
} ae_bird_t;

void ae_bird_init(ae_bird_t *bird, const char *socket_path);
/* Every protocol listed enabled or disabled; returns how many of them BIRD had in the other state
 * (0 when all were already right), or -1 with the reason in err. */
int ae_bird_set(ae_bird_t *bird, char *const *protocols, size_t num_protocols, int enable, uint64_t timeout_ms, char *err,
                size_t err_size);
void ae_bird_close(ae_bird_t *bird);

#endif
