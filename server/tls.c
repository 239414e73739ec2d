/*
 * TLS for the listeners with `tls: true`, registered as the "tls" module.
 *
 * Site keys: tls.certificate and tls.key (a PEM file each, or lists of the same length: e.g. an RSA
 * and an ECDSA certificate; OpenSSL keeps one of each key type per context and serves the one the
 * client's signature algorithms allow), tls.ocsp-response (a DER OCSP response stapled when the
 * client asks). Global keys: tls.min-version ("1.2", the default, or "1.3"), tls.ciphers (the
 * TLS 1.2 cipher list; TLS 1.3 uses OpenSSL's suites) and tls.ticket-rotation (1h).
 *
 * Every site with a certificate gets its own SSL_CTX; a TLS listener starts with the first such
 * site's, and the SNI callback switches to the site whose host or alias is the server name, else to
 * a site whose certificate names it (exactly, or by a wildcard "*.example.com" for one label). ALPN
 * offers h2 and http/1.1 (h2o's accept then speaks HTTP/2 when h2 was chosen). Session resumption
 * uses tickets only (no server-side cache): the ticket keys are random per process and rotate every
 * tls.ticket-rotation; a ticket is accepted under the current or the previous key, a session lasts
 * two rotations from its full handshake (the contexts' timeout), and a restart (or a reload, which
 * is a new process) invalidates every ticket.
 *
 * Contexts are built on the main thread at config time (so `anyedge -t` checks certificates and
 * keys); the callbacks run on worker threads and only read them, except the ticket keys (a mutex).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "server/config.h"

#define DEFAULT_CIPHERS                                                                                                                    \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#define DEFAULT_TICKET_ROTATION_S 3600
#define SESSION_ID_CONTEXT "anyedge"

extern ae_module_t ae_tls_module;

typedef struct {
    char *path;
    unsigned line;
} file_ref_t;

typedef struct tls_site {
    ae_site_t *site;
    H2O_VECTOR(file_ref_t) certificates, keys;
    file_ref_t ocsp_file;
    h2o_iovec_t ocsp; /* the DER response, or empty */
    SSL_CTX *ctx;
} tls_site_t;

/* Names the SNI callback looks up, in order: site hosts and aliases, then the certificates' names. */
typedef struct {
    char *name; /* lower-case; "*.example.com" for a wildcard */
    SSL_CTX *ctx;
} sni_entry_t;

static struct {
    int min_version;
    time_t ticket_rotation_s;
    char *ciphers;
    H2O_VECTOR(sni_entry_t) hosts, cert_names;
    SSL_CTX *default_ctx;
} tls = {.min_version = TLS1_2_VERSION, .ticket_rotation_s = DEFAULT_TICKET_ROTATION_S};

static const h2o_iovec_t alpn_protocols[] = {{H2O_STRLIT("h2")}, {H2O_STRLIT("http/1.1")}, {NULL}};

/* ---- session tickets ---- */

typedef struct {
    unsigned char name[16], aes_key[32], hmac_key[32];
    time_t created;
} ticket_key_t;

static pthread_mutex_t ticket_lock = PTHREAD_MUTEX_INITIALIZER;
static ticket_key_t ticket_keys[2]; /* [0] current, [1] previous (created == 0: none) */

static void new_ticket_key(ticket_key_t *key, time_t now)
{
    if (RAND_bytes(key->name, sizeof(key->name)) != 1 || RAND_bytes(key->aes_key, sizeof(key->aes_key)) != 1 ||
        RAND_bytes(key->hmac_key, sizeof(key->hmac_key)) != 1)
        h2o_fatal("RAND_bytes failed");
    key->created = now;
}

static int set_hmac_key(EVP_MAC_CTX *hctx, unsigned char *key)
{
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, 32),
                           OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0), OSSL_PARAM_construct_end()};
    return EVP_MAC_CTX_set_params(hctx, params);
}

static int on_ticket_key(SSL *ssl, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *cctx,
                         EVP_MAC_CTX *hctx, int enc)
{
    time_t now = time(NULL);
    int ret = 0;

    pthread_mutex_lock(&ticket_lock);
    if (ticket_keys[0].created == 0 || now - ticket_keys[0].created >= tls.ticket_rotation_s) {
        ticket_keys[1] = ticket_keys[0];
        new_ticket_key(&ticket_keys[0], now);
    }
    if (enc) {
        ticket_key_t *key = &ticket_keys[0];
        if (RAND_bytes(iv, 16) == 1 && EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key->aes_key, iv) == 1 &&
            set_hmac_key(hctx, key->hmac_key) == 1) {
            memcpy(key_name, key->name, 16);
            ret = 1;
        } else {
            ret = -1;
        }
    } else {
        for (int i = 0; i != 2; ++i) {
            ticket_key_t *key = &ticket_keys[i];
            if (key->created == 0 || memcmp(key_name, key->name, 16) != 0)
                continue;
            if (set_hmac_key(hctx, key->hmac_key) != 1 || EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, key->aes_key, iv) != 1)
                ret = -1;
            else
                ret = i == 0 ? 1 : 2; /* 2: valid, but issue a new ticket under the current key */
            break;
        }
    }
    pthread_mutex_unlock(&ticket_lock);
    return ret;
}

/* ---- SNI and OCSP ---- */

static int name_matches(const char *pattern, const char *name)
{
    if (strcmp(pattern, name) == 0)
        return 1;
    if (pattern[0] == '*' && pattern[1] == '.') {
        const char *dot = strchr(name, '.');
        return dot != NULL && dot != name && strcmp(dot + 1, pattern + 2) == 0;
    }
    return 0;
}

static SSL_CTX *find_ctx(const char *name)
{
    for (size_t i = 0; i != tls.hosts.size; ++i)
        if (strcmp(tls.hosts.entries[i].name, name) == 0)
            return tls.hosts.entries[i].ctx;
    for (size_t i = 0; i != tls.cert_names.size; ++i)
        if (strcmp(tls.cert_names.entries[i].name, name) == 0)
            return tls.cert_names.entries[i].ctx;
    for (size_t i = 0; i != tls.cert_names.size; ++i)
        if (name_matches(tls.cert_names.entries[i].name, name))
            return tls.cert_names.entries[i].ctx;
    return NULL;
}

static int on_servername(SSL *ssl, int *alert, void *arg)
{
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    char name[256];
    size_t len;

    if (sni == NULL || (len = strlen(sni)) == 0 || len >= sizeof(name))
        return SSL_TLSEXT_ERR_OK; /* the default certificate */
    for (size_t i = 0; i != len; ++i)
        name[i] = (char)(sni[i] >= 'A' && sni[i] <= 'Z' ? sni[i] - 'A' + 'a' : sni[i]);
    if (name[len - 1] == '.')
        --len;
    name[len] = '\0';
    SSL_CTX *ctx = find_ctx(name);
    if (ctx != NULL && ctx != SSL_get_SSL_CTX(ssl))
        SSL_set_SSL_CTX(ssl, ctx);
    return SSL_TLSEXT_ERR_OK;
}

static int on_status_request(SSL *ssl, void *arg)
{
    tls_site_t *ts = arg;
    if (ts->ocsp.len == 0)
        return SSL_TLSEXT_ERR_NOACK;
    unsigned char *copy = OPENSSL_malloc(ts->ocsp.len);
    if (copy == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    memcpy(copy, ts->ocsp.base, ts->ocsp.len);
    SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)ts->ocsp.len);
    return SSL_TLSEXT_ERR_OK;
}

/* ---- config ---- */

static tls_site_t *site_conf(ae_site_t *site)
{
    tls_site_t **slot = (tls_site_t **)&site->conf[ae_tls_module.index];
    if (*slot == NULL) {
        *slot = calloc(1, sizeof(**slot));
        (*slot)->site = site;
    }
    return *slot;
}

static int add_file(ae_config_t *cf, yaml_node_t *value, void *_files)
{
    H2O_VECTOR(file_ref_t) *files = _files;
    const char *s = ae_config_scalar(cf, value);
    if (s == NULL)
        return -1;
    if (s[0] == '\0')
        return ae_config_error(cf, value, "'%s' expected a file name", cf->key);
    h2o_vector_reserve(NULL, files, files->size + 1);
    files->entries[files->size++] = (file_ref_t){strdup(s), ae_config_line(value)};
    return 0;
}

static int set_files(ae_config_t *cf, yaml_node_t *value, void *files)
{
    if (value->type == YAML_SCALAR_NODE)
        return add_file(cf, value, files);
    if (ae_config_expect(cf, value, YAML_SEQUENCE_NODE) != 0)
        return -1;
    AE_CONFIG_FOREACH_ITEM(&cf->doc, value, item)
    {
        if (add_file(cf, item, files) != 0)
            return -1;
    }
    return 0;
}

static int set_certificate(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return set_files(cf, value, &site_conf(site)->certificates);
}

static int set_key(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    return set_files(cf, value, &site_conf(site)->keys);
}

static int set_ocsp_response(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    tls_site_t *ts = site_conf(site);
    const char *s = ae_config_scalar(cf, value);
    if (s == NULL)
        return -1;
    free(ts->ocsp_file.path);
    ts->ocsp_file = (file_ref_t){strdup(s), ae_config_line(value)};
    return 0;
}

static int set_min_version(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    static const char *const choices[] = {"1.2", "1.3", NULL};
    int choice;
    if (ae_config_choice(cf, value, choices, &choice) != 0)
        return -1;
    tls.min_version = choice == 0 ? TLS1_2_VERSION : TLS1_3_VERSION;
    return 0;
}

static int set_ciphers(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    const char *s = ae_config_scalar(cf, value);
    if (s == NULL)
        return -1;
    SSL_CTX *probe = SSL_CTX_new(TLS_server_method());
    int ok = SSL_CTX_set_cipher_list(probe, s);
    SSL_CTX_free(probe);
    if (!ok)
        return ae_config_error(cf, value, "'tls.ciphers': OpenSSL knows none of the ciphers in '%s'", s);
    free(tls.ciphers);
    tls.ciphers = strdup(s);
    return 0;
}

static int set_ticket_rotation(ae_config_t *cf, yaml_node_t *value, ae_site_t *site)
{
    uint64_t ms;
    if (ae_config_duration_ms(cf, value, &ms) != 0)
        return -1;
    if (ms < 1000 || ms % 1000 != 0 || ms > 7 * 86400 * 1000)
        return ae_config_error(cf, value, "'tls.ticket-rotation': whole seconds from 1s to 7d");
    tls.ticket_rotation_s = (time_t)(ms / 1000);
    return 0;
}

/* OpenSSL's reason for the last failure, or the file's own error when it cannot be read. */
static const char *why(const char *path)
{
    static char buf[256];
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        snprintf(buf, sizeof(buf), "%s", strerror(errno));
    } else {
        fclose(fp);
        unsigned long e = ERR_peek_last_error();
        const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
        snprintf(buf, sizeof(buf), "%s", reason != NULL ? reason : "not a usable PEM file");
    }
    ERR_clear_error();
    return buf;
}

static void add_sni(void *_entries, const char *name, SSL_CTX *ctx)
{
    H2O_VECTOR(sni_entry_t) *entries = _entries;
    h2o_vector_reserve(NULL, entries, entries->size + 1);
    char *lower = strdup(name);
    for (char *p = lower; *p != '\0'; ++p)
        if (*p >= 'A' && *p <= 'Z')
            *p += 'a' - 'A';
    entries->entries[entries->size++] = (sni_entry_t){lower, ctx};
}

/* The DNS names of the certificate (its subjectAltNames, else its CN), for SNI. */
static void add_certificate_names(X509 *cert, SSL_CTX *ctx)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int found = 0;
    for (int i = 0; names != NULL && i != sk_GENERAL_NAME_num(names); ++i) {
        GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type != GEN_DNS)
            continue;
        const char *dns = (const char *)ASN1_STRING_get0_data(gn->d.dNSName);
        if ((size_t)ASN1_STRING_length(gn->d.dNSName) != strlen(dns))
            continue;
        add_sni(&tls.cert_names, dns, ctx);
        found = 1;
    }
    GENERAL_NAMES_free(names);
    if (!found) {
        char cn[256];
        if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)) > 0)
            add_sni(&tls.cert_names, cn, ctx);
    }
}

static int read_whole_file(const char *path, h2o_iovec_t *out)
{
    FILE *fp = fopen(path, "rb");
    char buf[65536];
    size_t n;
    if (fp == NULL)
        return -1;
    out->len = 0;
    out->base = NULL;
    while ((n = fread(buf, 1, sizeof(buf), fp)) != 0) {
        out->base = realloc(out->base, out->len + n);
        memcpy(out->base + out->len, buf, n);
        out->len += n;
    }
    int err = ferror(fp);
    fclose(fp);
    return err ? -1 : 0;
}

static SSL_CTX *new_server_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, tls.min_version);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_cipher_list(ctx, tls.ciphers != NULL ? tls.ciphers : DEFAULT_CIPHERS);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)SESSION_ID_CONTEXT, sizeof(SESSION_ID_CONTEXT) - 1);
    SSL_CTX_set_timeout(ctx, 2 * tls.ticket_rotation_s);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket_key);
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    h2o_ssl_register_alpn_protocols(ctx, alpn_protocols);
    return ctx;
}

static int build_site_ctx(ae_config_t *cf, tls_site_t *ts)
{
    ae_site_t *site = ts->site;
    if (ts->certificates.size == 0)
        return ae_config_error_at(cf, ts->keys.size != 0 ? ts->keys.entries[0].line : site->line,
                                  "site '%s' has 'tls.key' but no 'tls.certificate'", site->host);
    if (ts->keys.size != ts->certificates.size)
        return ae_config_error_at(cf, ts->keys.size != 0 ? ts->keys.entries[0].line : ts->certificates.entries[0].line,
                                  "site '%s': %zu 'tls.certificate' files but %zu 'tls.key' files (expected one key per certificate)",
                                  site->host, ts->certificates.size, ts->keys.size);
    ts->ctx = new_server_ctx();
    for (size_t i = 0; i != ts->certificates.size; ++i) {
        file_ref_t *cert = &ts->certificates.entries[i], *key = &ts->keys.entries[i];
        ERR_clear_error();
        if (SSL_CTX_use_certificate_chain_file(ts->ctx, cert->path) != 1)
            return ae_config_error_at(cf, cert->line, "'tls.certificate': cannot load '%s': %s", cert->path, why(cert->path));
        X509 *x509 = SSL_CTX_get0_certificate(ts->ctx);
        if (SSL_CTX_use_PrivateKey_file(ts->ctx, key->path, SSL_FILETYPE_PEM) != 1) {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH || ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH) {
                ERR_clear_error();
                return ae_config_error_at(cf, key->line, "'tls.key': '%s' does not match the certificate '%s'", key->path, cert->path);
            }
            return ae_config_error_at(cf, key->line, "'tls.key': cannot load '%s': %s", key->path, why(key->path));
        }
        if (SSL_CTX_check_private_key(ts->ctx) != 1) {
            ERR_clear_error();
            return ae_config_error_at(cf, key->line, "'tls.key': '%s' does not match the certificate '%s'", key->path, cert->path);
        }
        add_certificate_names(x509, ts->ctx);
    }
    if (ts->ocsp_file.path != NULL) {
        if (read_whole_file(ts->ocsp_file.path, &ts->ocsp) != 0)
            return ae_config_error_at(cf, ts->ocsp_file.line, "'tls.ocsp-response': cannot read '%s': %s", ts->ocsp_file.path, strerror(errno));
        const unsigned char *p = (const unsigned char *)ts->ocsp.base;
        OCSP_RESPONSE *resp = d2i_OCSP_RESPONSE(NULL, &p, (long)ts->ocsp.len);
        if (resp == NULL) {
            ERR_clear_error();
            return ae_config_error_at(cf, ts->ocsp_file.line, "'tls.ocsp-response': '%s' is not a DER OCSP response", ts->ocsp_file.path);
        }
        OCSP_RESPONSE_free(resp);
    }
    SSL_CTX_set_tlsext_status_cb(ts->ctx, on_status_request);
    SSL_CTX_set_tlsext_status_arg(ts->ctx, ts);
    add_sni(&tls.hosts, site->host, ts->ctx);
    for (size_t i = 0; i != site->aliases.size; ++i)
        add_sni(&tls.hosts, site->aliases.entries[i], ts->ctx);
    return 0;
}

static int on_config_done(ae_config_t *cf, ae_server_t *srv)
{
    for (size_t i = 0; i != srv->sites.size; ++i) {
        tls_site_t *ts = srv->sites.entries[i]->conf[ae_tls_module.index];
        if (ts == NULL || (ts->certificates.size == 0 && ts->keys.size == 0 && ts->ocsp_file.path == NULL))
            continue;
        if (ts->certificates.size == 0 && ts->keys.size == 0)
            return ae_config_error_at(cf, ts->ocsp_file.line, "site '%s' has 'tls.ocsp-response' but no 'tls.certificate'", ts->site->host);
        if (build_site_ctx(cf, ts) != 0)
            return -1;
        if (tls.default_ctx == NULL)
            tls.default_ctx = ts->ctx;
    }
    for (size_t i = 0; i != srv->listen.size; ++i) {
        ae_listen_addr_t *listen = &srv->listen.entries[i];
        if (!listen->tls)
            continue;
        if (tls.default_ctx == NULL)
            return ae_config_error_at(cf, listen->line, "listen '%s' has 'tls: true' but no site has a 'tls.certificate'", listen->text);
        listen->ssl_ctx = tls.default_ctx;
    }
    return 0;
}

static void free_files(void *_files)
{
    H2O_VECTOR(file_ref_t) *files = _files;
    for (size_t i = 0; i != files->size; ++i)
        free(files->entries[i].path);
    free(files->entries);
}

static void free_sni(void *_entries)
{
    H2O_VECTOR(sni_entry_t) *entries = _entries;
    for (size_t i = 0; i != entries->size; ++i)
        free(entries->entries[i].name);
    free(entries->entries);
    memset(entries, 0, sizeof(*entries));
}

static void on_dispose(ae_server_t *srv)
{
    for (size_t i = 0; i != srv->sites.size; ++i) {
        tls_site_t *ts = srv->sites.entries[i]->conf[ae_tls_module.index];
        if (ts == NULL)
            continue;
        free_files(&ts->certificates);
        free_files(&ts->keys);
        free(ts->ocsp_file.path);
        free(ts->ocsp.base);
        if (ts->ctx != NULL)
            SSL_CTX_free(ts->ctx);
        free(ts);
        srv->sites.entries[i]->conf[ae_tls_module.index] = NULL;
    }
    free_sni(&tls.hosts);
    free_sni(&tls.cert_names);
    free(tls.ciphers);
    tls.ciphers = NULL;
    tls.default_ctx = NULL;
    tls.min_version = TLS1_2_VERSION;
    tls.ticket_rotation_s = DEFAULT_TICKET_ROTATION_S;
}

static const ae_directive_t directives[] = {
    {"tls.certificate", AE_SCOPE_SITE, set_certificate},
    {"tls.key", AE_SCOPE_SITE, set_key},
    {"tls.ocsp-response", AE_SCOPE_SITE, set_ocsp_response},
    {"tls.min-version", AE_SCOPE_GLOBAL, set_min_version},
    {"tls.ciphers", AE_SCOPE_GLOBAL, set_ciphers},
    {"tls.ticket-rotation", AE_SCOPE_GLOBAL, set_ticket_rotation},
    {NULL},
};

ae_module_t ae_tls_module = {
    .name = "tls",
    .directives = directives,
    .on_config_done = on_config_done,
    .on_dispose = on_dispose,
};
