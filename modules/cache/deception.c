/*
 * Extension classes and the media types that fit them (see deception.h). Any thread.
 */
#include <string.h>
#include "modules/cache/deception.h"

typedef struct ext_class {
    const char *name;
    const char *extensions[12]; /* NULL-terminated */
    const char *types[8];       /* exact media types, or "prefix/" for a whole top-level type */
} ext_class_t;

static const ext_class_t classes[] = {
    {"stylesheet", {"css", NULL}, {"text/css", NULL}},
    {"script",
     {"js", "mjs", NULL},
     {"application/javascript", "text/javascript", "application/x-javascript", "application/ecmascript", NULL}},
    {"image", {"png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp", NULL}, {"image/", NULL}},
    {"font",
     {"woff", "woff2", "ttf", "otf", "eot", NULL},
     {"font/", "application/font-woff", "application/vnd.ms-fontobject", "application/x-font-ttf", NULL}},
    {"media", {"mp4", "webm", "mp3", "ogg", "m4a", "m4s", "ts", NULL}, {"video/", "audio/", "application/mp4", NULL}},
    {"data", {"json", NULL}, {"application/json", NULL}},
    {"document", {"html", "htm", NULL}, {"text/html", NULL}},
};

const char *ae_cache_extension_class(h2o_iovec_t path)
{
    const char *end = memchr(path.base, '?', path.len);
    size_t len = end != NULL ? (size_t)(end - path.base) : path.len;
    const char *slash = len != 0 ? memrchr(path.base, '/', len) : NULL;
    const char *dot = len != 0 ? memrchr(path.base, '.', len) : NULL;
    if (dot == NULL || (slash != NULL && dot < slash))
        return NULL;
    h2o_iovec_t ext = h2o_iovec_init(dot + 1, path.base + len - dot - 1);
    for (size_t i = 0; i != sizeof(classes) / sizeof(classes[0]); ++i)
        for (const char *const *e = classes[i].extensions; *e != NULL; ++e)
            if (h2o_lcstris(ext.base, ext.len, *e, strlen(*e)))
                return classes[i].name;
    return NULL;
}

int ae_cache_content_type_fits(const char *ext_class, h2o_iovec_t content_type)
{
    const char *semicolon = memchr(content_type.base, ';', content_type.len);
    size_t len = semicolon != NULL ? (size_t)(semicolon - content_type.base) : content_type.len;
    while (len != 0 && (content_type.base[len - 1] == ' ' || content_type.base[len - 1] == '\t'))
        --len;
    for (size_t i = 0; i != sizeof(classes) / sizeof(classes[0]); ++i) {
        if (strcmp(classes[i].name, ext_class) != 0)
            continue;
        for (const char *const *t = classes[i].types; *t != NULL; ++t) {
            size_t tlen = strlen(*t);
            if ((*t)[tlen - 1] == '/' ? len > tlen && h2o_lcstris(content_type.base, tlen, *t, tlen)
                                      : h2o_lcstris(content_type.base, len, *t, tlen))
                return 1;
        }
    }
    return 0;
}
