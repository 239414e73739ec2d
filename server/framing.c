/*
 * The HTTP/1 request-head check (see framing.h). libh2o's HTTP/1 server reads every request head
 * with picohttpparser's phr_parse_request, which libh2o exports and calls through its PLT; anyedge
 * defines phr_parse_request itself, so that call lands here. The real parser runs first. Then, on a
 * complete head: the spaces and tabs that end a value are dropped (they are not part of it); an
 * absolute-form target becomes the origin-form one with its authority as Host; and a head with an
 * ambiguous framing or Host is reported as a parse error, which h2o answers with 400 and
 * Connection: close before any handler or origin sees the request. Called by libh2o on the worker
 * threads; ae_framing_init on the main thread.
 */
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include "server/framing.h"
#include "server/log.h"

typedef int (*parse_request_fn)(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                                size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                                size_t last_len);

static parse_request_fn real_parse_request;
static pthread_once_t resolved = PTHREAD_ONCE_INIT;
static time_t warned_at;

static void resolve_real_parser(void)
{
    real_parse_request = (parse_request_fn)dlsym(RTLD_NEXT, "phr_parse_request");
}

static int name_is(const struct phr_header *h, const char *name, size_t len)
{
    return h->name_len == len && strncasecmp(h->name, name, len) == 0;
}

/* A Host value made only of the characters a reg-name, IPv4 or [IP-literal] host and a ":port" may
 * have (RFC 3986); the structure itself is the router's to judge. */
static int valid_host(const char *s, size_t len)
{
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = s[i];
        int letter_or_digit = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!letter_or_digit && (c == '\0' || strchr("-._~!$&'()*+,;=%:[]", c) == NULL))
            return 0;
    }
    return 1;
}

/* An absolute-form target ("http://host[:port]/path?query", RFC 9112 3.2.2) becomes the origin-form
 * target it names, and its authority the Host (instead of a Host line, which the RFC says to ignore,
 * or added), so that routing, the cache key and the request to the origin see one host. NULL, or
 * why the target cannot be taken. Other targets are left as they are. */
static const char *take_absolute_form(const char **path, size_t *path_len, struct phr_header *headers, size_t *count,
                                      size_t capacity)
{
    static __thread char host_name[] = "host"; /* h2o lower-cases header names in place */
    size_t scheme_len = *path_len >= 7 && strncasecmp(*path, "http://", 7) == 0    ? 7
                        : *path_len >= 8 && strncasecmp(*path, "https://", 8) == 0 ? 8
                                                                                   : 0;
    if (scheme_len == 0)
        return NULL;
    const char *authority = *path + scheme_len, *end = *path + *path_len, *rest = authority;
    while (rest != end && *rest != '/' && *rest != '?' && *rest != '#')
        ++rest;
    if (rest == authority)
        return "an absolute URL without a host";
    if (rest != end && *rest != '/')
        return "an absolute URL with a query but no path";
    struct phr_header *host = NULL;
    for (size_t i = 0; i != *count && host == NULL; ++i)
        if (name_is(headers + i, "host", 4))
            host = headers + i;
    if (host == NULL) {
        if (*count == capacity)
            return "too many header lines";
        host = headers + (*count)++;
        *host = (struct phr_header){host_name, 4, NULL, 0};
    }
    host->value = authority;
    host->value_len = rest - authority;
    *path = rest != end ? rest : "/";
    *path_len = end - rest != 0 ? (size_t)(end - rest) : 1;
    return NULL;
}

/* Why a parsed HTTP/1.minor_version request head must be refused (400), or NULL when its framing
 * and Host are unambiguous. */
static const char *framing_problem(int minor_version, const struct phr_header *headers, size_t count)
{
    size_t hosts = 0, lengths = 0, codings = 0;

    for (size_t i = 0; i != count; ++i) {
        const struct phr_header *h = headers + i;
        if (h->name == NULL)
            return "a folded header line";
        if (name_is(h, "host", 4)) {
            if (++hosts > 1)
                return "more than one Host";
            if (!valid_host(h->value, h->value_len))
                return "a Host that is not a host name";
        } else if (name_is(h, "content-length", 14)) {
            ++lengths;
        } else if (name_is(h, "transfer-encoding", 17)) {
            ++codings;
        }
    }
    if (hosts == 0 && minor_version >= 1)
        return "no Host (HTTP/1.1)";
    if (lengths > 1)
        return "more than one Content-Length";
    if (codings > 1)
        return "more than one Transfer-Encoding";
    if (codings != 0 && lengths != 0)
        return "both Content-Length and Transfer-Encoding";
    if (codings != 0 && minor_version == 0)
        return "Transfer-Encoding in an HTTP/1.0 request";
    return NULL;
}

int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path, size_t *path_len,
                      int *minor_version, struct phr_header *headers, size_t *num_headers, size_t last_len)
{
    size_t capacity = *num_headers;
    pthread_once(&resolved, resolve_real_parser);
    int head_len = real_parse_request(buf, len, method, method_len, path, path_len, minor_version, headers, num_headers, last_len);
    if (head_len <= 0)
        return head_len;
    ae_phr_trim_values(headers, *num_headers);
    const char *problem = take_absolute_form(path, path_len, headers, num_headers, capacity);
    if (problem == NULL && (problem = framing_problem(*minor_version, headers, *num_headers)) == NULL)
        return head_len;
    ae_log_warn_each_second(&warned_at, "a request with %s refused: 400", problem);
    return -1;
}

/* ---- is the definition in effect? ---- */

#if __ELF_NATIVE_CLASS == 64
#define RELOC_SYMBOL ELF64_R_SYM
#else
#define RELOC_SYMBOL ELF32_R_SYM
#endif

typedef struct {
    uintptr_t in_object; /* an address inside the shared object to look at */
    int found, imported;
} plt_probe_t;

/* A dynamic-section address: relocated by the loader on most systems, an offset on some. */
static uintptr_t dynamic_address(const struct dl_phdr_info *info, ElfW(Addr) value)
{
    return value < info->dlpi_addr ? info->dlpi_addr + value : value;
}

/* For the object holding probe->in_object: whether one of its PLT relocations (the calls it makes
 * through its PLT, bound to the first definition the loader finds) names phr_parse_request. A
 * library linked with -Bsymbolic-functions, or with the parser inlined, calls its own copy. */
static int find_plt_import(struct dl_phdr_info *info, size_t size, void *_probe)
{
    plt_probe_t *probe = _probe;
    const ElfW(Dyn) *dynamic = NULL;
    int holds = 0;
    for (int i = 0; i != info->dlpi_phnum; ++i) {
        const ElfW(Phdr) *ph = info->dlpi_phdr + i;
        uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && probe->in_object >= start && probe->in_object - start < ph->p_memsz)
            holds = 1;
        else if (ph->p_type == PT_DYNAMIC)
            dynamic = (const ElfW(Dyn) *)start;
    }
    if (!holds || dynamic == NULL)
        return 0;
    probe->found = 1;
    uintptr_t relocs = 0, symbols = 0, names = 0;
    size_t relocs_size = 0, reloc_size = sizeof(ElfW(Rela));
    for (const ElfW(Dyn) *d = dynamic; d->d_tag != DT_NULL; ++d) {
        switch (d->d_tag) {
        case DT_JMPREL:
            relocs = dynamic_address(info, d->d_un.d_ptr);
            break;
        case DT_PLTRELSZ:
            relocs_size = d->d_un.d_val;
            break;
        case DT_PLTREL:
            reloc_size = d->d_un.d_val == DT_REL ? sizeof(ElfW(Rel)) : sizeof(ElfW(Rela));
            break;
        case DT_SYMTAB:
            symbols = dynamic_address(info, d->d_un.d_ptr);
            break;
        case DT_STRTAB:
            names = dynamic_address(info, d->d_un.d_ptr);
            break;
        }
    }
    if (relocs == 0 || symbols == 0 || names == 0)
        return 1;
    for (size_t at = 0; at + reloc_size <= relocs_size; at += reloc_size) {
        const ElfW(Rel) *reloc = (const ElfW(Rel) *)(relocs + at); /* r_info is where it is in both forms */
        const ElfW(Sym) *sym = (const ElfW(Sym) *)symbols + RELOC_SYMBOL(reloc->r_info);
        if (strcmp((const char *)names + sym->st_name, "phr_parse_request") == 0)
            probe->imported = 1;
    }
    return 1;
}

int ae_framing_init(void)
{
    pthread_once(&resolved, resolve_real_parser);
    plt_probe_t probe = {(uintptr_t)real_parse_request};
    if (real_parse_request != NULL)
        dl_iterate_phdr(find_plt_import, &probe);
    if (!probe.imported || dlsym(RTLD_DEFAULT, "phr_parse_request") != (void *)phr_parse_request) {
        ae_log_error("the HTTP/1 request-head check cannot be put in effect: libh2o does not call phr_parse_request through "
                     "its PLT, or another definition comes first");
        return -1;
    }
    return 0;
}
