/*
 * Web cache deception: a URL like /account/settings.php/x.css looks like a stylesheet, but the
 * origin may answer it with the account page; stored because of the extension, it would be served
 * to everyone. With `cache.content-type-check: true` a response whose Content-Type does not fit the
 * class of its URL's extension (stylesheet, script, image, font, document, data, media) is not
 * stored. URLs without a known extension are not checked. Pure functions; any thread.
 */
#ifndef ANYEDGE_CACHE_DECEPTION_H
#define ANYEDGE_CACHE_DECEPTION_H

#include <h2o.h>

/* The class of the path's extension (the query ignored), or NULL when it has none we know. */
const char *ae_cache_extension_class(h2o_iovec_t path);
/* Does the Content-Type (media type, parameters ignored) belong to the class? */
int ae_cache_content_type_fits(const char *ext_class, h2o_iovec_t content_type);

#endif
