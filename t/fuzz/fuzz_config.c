/*
 * Fuzz target: the YAML config loader (server/config.c, config_values.c and every module's
 * directives): each input is written to a temporary file, loaded into a fresh server object, which
 * is then disposed; LeakSanitizer checks that nothing loaded survives the dispose. The modules'
 * settings are globals that their on_dispose resets: after each input a reference config is loaded
 * too, and what it yields must be what it yielded before any input.
 *
 * Input: a config file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "modules/cache/cache.h"
#include "modules/health/health.h"
#include "modules/purge/purge.h"
#include "server/config.h"

static char path[] = "/tmp/anyedge-fuzz-config-XXXXXX";
static int fd = -1;

static const char reference[] = "listen: [\"127.0.0.1:8080\"]\n"
                                "sites:\n"
                                "  - host: example.com\n"
                                "    origin: http://127.0.0.1:9000\n";

/* What the reference config leaves in the modules' globals. */
typedef struct {
    uint64_t max_object_size;
    char store_path[256];
    ae_health_conf_t health; /* with its pointers cleared: what they point to is in strings */
    ae_purge_conf_t purge;
    char strings[2048];
} settings_t;

static void add_string(settings_t *out, char **s)
{
    size_t at = strlen(out->strings);
    snprintf(out->strings + at, sizeof(out->strings) - at, "%s\n", *s != NULL ? *s : "(null)");
    *s = NULL;
}

static void add_names(settings_t *out, ae_name_list_t *list)
{
    for (size_t i = 0; i != list->size; ++i)
        add_string(out, &list->entries[i]);
    list->entries = NULL;
    list->capacity = 0;
}

static void take_settings(settings_t *out)
{
    memset(out, 0, sizeof(*out));
    out->max_object_size = ae_cache_max_object_size();
    snprintf(out->store_path, sizeof(out->store_path), "%s", ae_cache_store_path());
    out->health = ae_health_conf;
    ae_health_conf_t *h = &out->health;
    char **strings[] = {&h->self_host, &h->self_path, &h->drain_file, &h->announcer.socket, &h->announcer.degraded_attributes,
                        &h->announcer.next_hop, &h->announcer.command};
    for (size_t i = 0; i != sizeof(strings) / sizeof(strings[0]); ++i)
        add_string(out, strings[i]);
    add_names(out, &h->announcer.protocols);
    add_names(out, &h->announcer.degraded_protocols);
    add_names(out, &h->announcer.prefixes);
    out->purge = ae_purge_conf;
    out->purge.peers.entries = NULL;
    out->purge.peers.capacity = 0;
}

static void write_input(const uint8_t *data, size_t size)
{
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
}

static void load_reference(settings_t *out)
{
    ae_server_t srv;
    char err[1024];
    write_input((const uint8_t *)reference, sizeof(reference) - 1);
    ae_server_init(&srv);
    if (ae_server_load_config(&srv, path, err, sizeof(err)) != 0) {
        fprintf(stderr, "the reference config does not load: %s\n", err);
        abort();
    }
    take_settings(out);
    ae_server_dispose(&srv);
}

static void remove_file(void)
{
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd == -1) {
        if ((fd = mkstemp(path)) == -1)
            abort();
        atexit(remove_file);
    }
    static settings_t pristine, after;
    static int have_pristine;
    if (!have_pristine) {
        load_reference(&pristine);
        have_pristine = 1;
    }
    write_input(data, size);

    ae_server_t srv;
    char err[1024];
    ae_server_init(&srv);
    if (ae_server_load_config(&srv, path, err, sizeof(err)) != 0 && err[0] == '\0')
        __builtin_trap(); /* a refused config always says why */
    ae_server_dispose(&srv);

    load_reference(&after);
    if (memcmp(&after, &pristine, sizeof(after)) != 0) {
        fprintf(stderr, "a module setting outlived its server: the reference config loads differently now\n");
        __builtin_trap();
    }
    return 0;
}
