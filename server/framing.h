/*
 * HTTP/1 request framing that two HTTP implementations could read differently, refused before h2o
 * acts on it: libh2o 2.2.5 takes the first of two Content-Lengths, the chunks when Transfer-Encoding
 * comes with a Content-Length, the last of two Hosts, and hides those headers from every handler.
 * A proxy in front of anyedge that read the same bytes the other way could hide a request in a body.
 */
#ifndef ANYEDGE_FRAMING_H
#define ANYEDGE_FRAMING_H

#include "server/phr.h"

/* Checks at start-up that libh2o's calls to phr_parse_request reach anyedge's definition: libh2o
 * imports it through its PLT (a jump-slot relocation names it) and the loader's first definition is
 * anyedge's. -1 (logged) if not. Main thread, before the workers start. */
int ae_framing_init(void);

#endif
