/*
 * The geo databases: loading, watching, lookups.
 *
 * Private copies. libmaxminddb maps the file it opens (MMDB_MODE_MMAP, its only mode). Mapping
 * the operator's file directly would be fragile: geoipupdate replaces it by an atomic rename
 * (harmless for a mapping), but a file overwritten or truncated in place would change the pages
 * under the readers and a truncation would kill the process with SIGBUS. So each file is copied
 * into a memfd (anonymous memory, never on disk), sealed against shrinking, growing and writing,
 * and libmaxminddb maps that copy (through /proc/self/fd). Nobody can change it afterwards; the
 * cost is one copy of the database in memory (plus the old one during a reload). A copy is kept
 * only if the file did not change while it was read (size and mtime, before and after).
 *
 * Watching. A thread of its own stats the files every `geo.check-interval` (1 s). A new inode (a
 * rename into place) is loaded at once; a file changed in place is loaded once it has stayed the
 * same for one interval (the writer is probably done). A copy that libmaxminddb refuses, or that
 * changed while read, is logged and the old databases stay in use; it is tried again when the
 * file changes again. With `geo.on-error: disable`, a start-up without a usable file is watched the
 * same way: the databases are loaded once the files appear (or change).
 *
 * Switching without a window of failures. `current` points to the databases in use. A worker
 * publishes the pointer it is about to use in its own hazard slot, then checks that `current` is
 * still the same (all sequentially consistent), looks up, and clears its slot: a lookup takes
 * microseconds and never waits. The watch thread publishes the new databases first, then waits
 * until no worker's slot holds the old pointer, and only then closes the old ones. Requests see
 * either the old or the new databases, never none, and take no lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "modules/geo/geo.h"
#include "server/log.h"

typedef struct {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int exists;
} file_sig_t;

typedef struct geo_db {
    MMDB_s main, asn;
    int has_asn;
} geo_db_t;

static ae_geo_db_conf_t conf;
static geo_db_t *current;
static struct {
    geo_db_t *p;
    char pad[64 - sizeof(geo_db_t *)];
} hazard[AE_GEO_MAX_THREADS];

static pthread_t watch_thread;
static int watching, stop_watch;
static pthread_mutex_t watch_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond;

/* status, for the admin view (under status_mutex) */
static pthread_mutex_t status_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint64_t build_epoch, asn_build_epoch, loaded_at, reloads, failures;
} status;

/* the files as last loaded (or last tried), and as seen at the previous check: watch thread only */
static file_sig_t loaded_sig[2], seen_sig[2];

static void get_sig(const char *path, file_sig_t *sig)
{
    struct stat st;
    memset(sig, 0, sizeof(*sig));
    if (path == NULL || stat(path, &st) != 0)
        return;
    *sig = (file_sig_t){st.st_dev, st.st_ino, st.st_size, st.st_mtim, 1};
}

static int same_sig(const file_sig_t *a, const file_sig_t *b)
{
    return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Copies the file into a sealed memfd and opens that; 0, or -1 with a message. `sig` is the file
 * as it was copied. */
static int open_private_copy(const char *path, MMDB_s *mmdb, file_sig_t *sig, char *err, size_t err_size)
{
    int fd = -1, copy = -1, ret = -1;
    struct stat before, after;
    char buf[65536], proc_path[64];
    off_t copied = 0;

    memset(sig, 0, sizeof(*sig));
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &before) != 0) {
        snprintf(err, err_size, "cannot open %s: %s", path, strerror(errno));
        goto Exit;
    }
    *sig = (file_sig_t){before.st_dev, before.st_ino, before.st_size, before.st_mtim, 1};
    if (!S_ISREG(before.st_mode)) {
        snprintf(err, err_size, "%s is not a regular file", path);
        goto Exit;
    }
    if ((copy = memfd_create("anyedge-geo", MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1) {
        snprintf(err, err_size, "cannot copy %s: memfd_create: %s", path, strerror(errno));
        goto Exit;
    }
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, err_size, "cannot read %s: %s", path, strerror(errno));
            goto Exit;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(copy, buf + off, n - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                snprintf(err, err_size, "cannot copy %s: %s", path, strerror(errno));
                goto Exit;
            }
            off += w;
        }
        copied += n;
    }
    if (fstat(fd, &after) != 0 || after.st_size != before.st_size || copied != before.st_size ||
        after.st_mtim.tv_sec != before.st_mtim.tv_sec || after.st_mtim.tv_nsec != before.st_mtim.tv_nsec) {
        snprintf(err, err_size, "%s changed while it was read", path);
        goto Exit;
    }
    if (fcntl(copy, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
        snprintf(err, err_size, "cannot seal the copy of %s: %s", path, strerror(errno));
        goto Exit;
    }
    snprintf(proc_path, sizeof(proc_path), "/proc/self/fd/%d", copy);
    int status = MMDB_open(proc_path, MMDB_MODE_MMAP, mmdb);
    if (status != MMDB_SUCCESS) {
        snprintf(err, err_size, "%s is not a usable MaxMind database: %s", path,
                 status == MMDB_IO_ERROR ? strerror(errno) : MMDB_strerror(status));
        goto Exit;
    }
    ret = 0;
Exit:
    if (fd != -1)
        close(fd);
    if (copy != -1)
        close(copy); /* the mapping keeps the memory */
    return ret;
}

static void free_db(geo_db_t *db)
{
    if (db == NULL)
        return;
    MMDB_close(&db->main);
    if (db->has_asn)
        MMDB_close(&db->asn);
    free(db);
}

/* Loads both files; NULL with a message on failure. `sigs` receive what was read. */
static geo_db_t *load(file_sig_t sigs[2], char *err, size_t err_size)
{
    geo_db_t *db = calloc(1, sizeof(*db));
    if (open_private_copy(conf.path, &db->main, &sigs[0], err, err_size) != 0) {
        free(db);
        return NULL;
    }
    if (conf.asn_path != NULL) {
        if (open_private_copy(conf.asn_path, &db->asn, &sigs[1], err, err_size) != 0) {
            MMDB_close(&db->main);
            free(db);
            return NULL;
        }
        db->has_asn = 1;
    }
    return db;
}

static void note_loaded(geo_db_t *db, int reload)
{
    pthread_mutex_lock(&status_mutex);
    status.build_epoch = db->main.metadata.build_epoch;
    status.asn_build_epoch = db->has_asn ? db->asn.metadata.build_epoch : 0;
    status.loaded_at = (uint64_t)time(NULL);
    if (reload)
        ++status.reloads;
    pthread_mutex_unlock(&status_mutex);
}

int ae_geo_db_open(const ae_geo_db_conf_t *c, char *err, size_t err_size)
{
    conf = *c;
    geo_db_t *db = load(loaded_sig, err, err_size);
    if (db == NULL)
        return -1;
    memcpy(seen_sig, loaded_sig, sizeof(seen_sig));
    note_loaded(db, 0);
    __atomic_store_n(&current, db, __ATOMIC_SEQ_CST);
    return 0;
}

int ae_geo_db_loaded(void)
{
    return __atomic_load_n(&current, __ATOMIC_SEQ_CST) != NULL;
}

/* Publishes `db` and closes the old databases once no worker uses them. Watch thread. */
static void replace(geo_db_t *db)
{
    geo_db_t *old = __atomic_exchange_n(&current, db, __ATOMIC_SEQ_CST);
    if (old == NULL)
        return; /* the first database (after a failed start-up load) */
    for (size_t i = 0; i != AE_GEO_MAX_THREADS; ++i)
        while (__atomic_load_n(&hazard[i].p, __ATOMIC_SEQ_CST) == old)
            nanosleep(&(struct timespec){0, 50000}, NULL);
    free_db(old);
}

static void check_files(void)
{
    file_sig_t now[2];
    int changed = 0, ready = 1;
    for (int i = 0; i != 2; ++i) {
        get_sig(i == 0 ? conf.path : conf.asn_path, &now[i]);
        if (i == 1 && conf.asn_path == NULL)
            continue;
        if (!now[i].exists || same_sig(&now[i], &loaded_sig[i]))
            continue; /* a missing file (between unlink and rename, say) keeps what is loaded */
        changed = 1;
        /* a new inode was renamed into place, complete; a file written in place must stay the same
         * for one interval first */
        if (now[i].ino == loaded_sig[i].ino && now[i].dev == loaded_sig[i].dev && !same_sig(&now[i], &seen_sig[i]))
            ready = 0;
    }
    memcpy(seen_sig, now, sizeof(seen_sig));
    if (!changed || !ready)
        return;

    char err[512];
    file_sig_t sigs[2];
    geo_db_t *db = load(sigs, err, sizeof(err));
    /* whatever happens, this version of the files is not tried again */
    for (int i = 0; i != 2; ++i)
        if (sigs[i].exists)
            loaded_sig[i] = sigs[i];
    if (db == NULL) {
        ae_log_warn("geo: keeping the loaded database: %s", err);
        pthread_mutex_lock(&status_mutex);
        ++status.failures;
        pthread_mutex_unlock(&status_mutex);
        return;
    }
    replace(db);
    note_loaded(db, 1);
    ae_log_info("geo: reloaded %s%s%s (built %llu)", conf.path, conf.asn_path != NULL ? " and " : "",
                conf.asn_path != NULL ? conf.asn_path : "", (unsigned long long)db->main.metadata.build_epoch);
}

static void *watch_main(void *arg)
{
    pthread_mutex_lock(&watch_mutex);
    while (!stop_watch) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += conf.check_interval_ms / 1000;
        deadline.tv_nsec += (conf.check_interval_ms % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
            deadline.tv_nsec -= 1000000000;
            ++deadline.tv_sec;
        }
        while (!stop_watch && pthread_cond_timedwait(&watch_cond, &watch_mutex, &deadline) != ETIMEDOUT)
            ;
        if (stop_watch)
            break;
        pthread_mutex_unlock(&watch_mutex);
        check_files();
        pthread_mutex_lock(&watch_mutex);
    }
    pthread_mutex_unlock(&watch_mutex);
    return NULL;
}

void ae_geo_db_start_watch(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&watch_cond, &attr);
    pthread_condattr_destroy(&attr);
    stop_watch = 0;
    if (pthread_create(&watch_thread, NULL, watch_main, NULL) == 0)
        watching = 1;
    else
        ae_log_warn("geo: cannot start the thread that watches the database; it will not be reloaded");
}

void ae_geo_db_close(void)
{
    if (watching) {
        pthread_mutex_lock(&watch_mutex);
        stop_watch = 1;
        pthread_cond_signal(&watch_cond);
        pthread_mutex_unlock(&watch_mutex);
        pthread_join(watch_thread, NULL);
        pthread_cond_destroy(&watch_cond);
        watching = 0;
    }
    free_db(__atomic_exchange_n(&current, NULL, __ATOMIC_SEQ_CST));
}

/* ---- lookups ---- */

static void get_string(MMDB_entry_s *entry, char *out, size_t out_size, const char *const *path)
{
    MMDB_entry_data_s data;
    if (out[0] != '\0' || MMDB_aget_value(entry, &data, path) != MMDB_SUCCESS || !data.has_data ||
        data.type != MMDB_DATA_TYPE_UTF8_STRING)
        return;
    size_t len = data.data_size < out_size - 1 ? data.data_size : out_size - 1;
    memcpy(out, data.utf8_string, len);
    out[len] = '\0';
}

static void get_code(MMDB_entry_s *entry, char out[3], const char *const *path)
{
    char code[8] = "";
    if (out[0] != '\0')
        return;
    get_string(entry, code, sizeof(code), path);
    if (strlen(code) != 2)
        return;
    for (int i = 0; i != 2; ++i) {
        char c = code[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c < 'A' || c > 'Z')
            return;
        out[i] = c;
    }
    out[2] = '\0';
}

static void get_asn(MMDB_entry_s *entry, uint32_t *asn)
{
    static const char *const path[] = {"autonomous_system_number", NULL};
    MMDB_entry_data_s data;
    if (*asn != 0 || MMDB_aget_value(entry, &data, path) != MMDB_SUCCESS || !data.has_data)
        return;
    if (data.type == MMDB_DATA_TYPE_UINT32)
        *asn = data.uint32;
    else if (data.type == MMDB_DATA_TYPE_UINT16)
        *asn = data.uint16;
    else if (data.type == MMDB_DATA_TYPE_UINT64 && data.uint64 <= UINT32_MAX)
        *asn = (uint32_t)data.uint64;
}

static int lookup_in(const MMDB_s *mmdb, const struct sockaddr *sa, ae_geo_info_t *info, int main)
{
    static const char *const country[] = {"country", "iso_code", NULL},
                             *const registered[] = {"registered_country", "iso_code", NULL},
                             *const continent[] = {"continent", "code", NULL}, *const city[] = {"city", "names", "en", NULL};
    int error;
    MMDB_lookup_result_s result = MMDB_lookup_sockaddr(mmdb, sa, &error);
    if (error != MMDB_SUCCESS || !result.found_entry)
        return 0;
    if (main) {
        get_code(&result.entry, info->country, country);
        get_code(&result.entry, info->country, registered);
        get_code(&result.entry, info->continent, continent);
        get_string(&result.entry, info->city, sizeof(info->city), city);
    }
    get_asn(&result.entry, &info->asn);
    return 1;
}

int ae_geo_db_lookup(size_t slot, const struct sockaddr *sa, ae_geo_info_t *info)
{
    int found = 0;
    memset(info, 0, sizeof(*info));
    if (slot >= AE_GEO_MAX_THREADS)
        return 0;
    geo_db_t *db = __atomic_load_n(&current, __ATOMIC_SEQ_CST), *again;
    for (;; db = again) {
        __atomic_store_n(&hazard[slot].p, db, __ATOMIC_SEQ_CST);
        if ((again = __atomic_load_n(&current, __ATOMIC_SEQ_CST)) == db)
            break;
    }
    if (db != NULL) {
        found |= lookup_in(&db->main, sa, info, 1);
        if (db->has_asn)
            found |= lookup_in(&db->asn, sa, info, 0);
    }
    __atomic_store_n(&hazard[slot].p, NULL, __ATOMIC_SEQ_CST);
    return found;
}

void ae_geo_db_status(uint64_t *build_epoch, uint64_t *loaded_at, uint64_t *reloads, uint64_t *reload_failures,
                      uint64_t *asn_build_epoch)
{
    pthread_mutex_lock(&status_mutex);
    *build_epoch = status.build_epoch;
    *asn_build_epoch = status.asn_build_epoch;
    *loaded_at = status.loaded_at;
    *reloads = status.reloads;
    *reload_failures = status.failures;
    pthread_mutex_unlock(&status_mutex);
}
