/*
 * BIRD control socket client (see bird.h). A reply is a run of lines "DDDD-text" ending with one
 * "DDDD text"; lines starting with a space continue the previous one. Codes from 8000 up are errors
 * (8xxx runtime, 9xxx syntax, e.g. an unknown protocol name). For enable/disable: 0011 "enabled" and
 * 0009 "disabled" mean BIRD changed state, 0010 and 0008 that it already was so.
 *
 * The thread that owns the ae_bird_t: health thread, or a command's main thread.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "modules/health/bird.h"
#include "server/clock.h"

#define CODE_ENABLED 11
#define CODE_DISABLED 9
#define CODE_WELCOME 1

void ae_bird_init(ae_bird_t *bird, const char *socket_path)
{
    *bird = (ae_bird_t){.socket_path = socket_path, .fd = -1};
}

void ae_bird_close(ae_bird_t *bird)
{
    if (bird->fd != -1)
        close(bird->fd);
    bird->fd = -1;
    bird->buffered = 0;
}

/* Reads one reply; returns the code that tells its outcome (an error code if any line has one, else
 * the first non-zero code, else the last line's), or -1 with err set. `text` gets that line's text. */
static int read_reply(ae_bird_t *bird, uint64_t deadline, char *text, size_t text_size, char *err, size_t err_size)
{
    int outcome = -1;
    while (1) {
        char *eol;
        while ((eol = memchr(bird->buf, '\n', bird->buffered)) != NULL) {
            size_t line_len = eol - bird->buf + 1;
            int code = -1, final = 0;
            *eol = '\0';
            if (line_len > 5 && bird->buf[0] >= '0' && bird->buf[0] <= '9') {
                code = atoi(bird->buf);
                final = bird->buf[4] == ' ';
                if (outcome < 8000 && (code >= 8000 || (code != 0 && outcome <= 0) || (final && outcome == -1))) {
                    outcome = code;
                    snprintf(text, text_size, "%s", bird->buf + 5);
                }
            }
            memmove(bird->buf, bird->buf + line_len, bird->buffered - line_len);
            bird->buffered -= line_len;
            if (final)
                return outcome;
        }
        if (bird->buffered == sizeof(bird->buf)) {
            snprintf(err, err_size, "reply line too long");
            return -1;
        }
        uint64_t now = ae_monotonic_ms();
        struct pollfd pfd = {.fd = bird->fd, .events = POLLIN};
        if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) == 0) {
            snprintf(err, err_size, "no reply from BIRD in time");
            return -1;
        }
        ssize_t n = read(bird->fd, bird->buf + bird->buffered, sizeof(bird->buf) - bird->buffered);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            snprintf(err, err_size, "BIRD closed the control socket");
            return -1;
        }
        bird->buffered += n;
    }
}

static int connect_to_bird(ae_bird_t *bird, uint64_t deadline, char *err, size_t err_size)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char text[256];

    if (strlen(bird->socket_path) >= sizeof(sa.sun_path)) {
        snprintf(err, err_size, "socket path too long");
        return -1;
    }
    strcpy(sa.sun_path, bird->socket_path);
    if ((bird->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
        connect(bird->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(err, err_size, "cannot connect to %s: %s", bird->socket_path, strerror(errno));
        ae_bird_close(bird);
        return -1;
    }
    if (read_reply(bird, deadline, text, sizeof(text), err, err_size) != CODE_WELCOME) {
        if (err[0] == '\0')
            snprintf(err, err_size, "unexpected greeting from BIRD");
        ae_bird_close(bird);
        return -1;
    }
    return 0;
}

int ae_bird_set(ae_bird_t *bird, char *const *protocols, size_t num_protocols, int enable, uint64_t timeout_ms, char *err,
                size_t err_size)
{
    uint64_t deadline = ae_monotonic_ms() + timeout_ms;
    int changed = 0;

    err[0] = '\0';
    if (bird->fd == -1 && connect_to_bird(bird, deadline, err, err_size) != 0)
        return -1;
    for (size_t i = 0; i != num_protocols; ++i) {
        char command[256], text[256];
        int len = snprintf(command, sizeof(command), "%s %s\n", enable ? "enable" : "disable", protocols[i]);
        if (write(bird->fd, command, len) != len) {
            snprintf(err, err_size, "cannot write to BIRD: %s", strerror(errno));
            goto Error;
        }
        int code = read_reply(bird, deadline, text, sizeof(text), err, err_size);
        if (code < 0)
            goto Error;
        if (code >= 8000) {
            snprintf(err, err_size, "BIRD refused '%.*s': %d %s", len - 1, command, code, text);
            return -1; /* an answer: the connection is fine */
        }
        changed += code == (enable ? CODE_ENABLED : CODE_DISABLED);
    }
    return changed;
Error:
    ae_bird_close(bird);
    return -1;
}
