/* roda_page.h - the fleet page served at GET / (gateway/http/page): its files, embedded in the
 * binary at build time (page/embed.cmake), and the headers that confine it.
 *
 * The page is static: everything live comes from the JSON endpoints and /alerts, fetched by its
 * script. Every response of the page carries RODA_PAGE_CSP, which allows scripts, styles and
 * connections from the gateway itself only (no inline script or style, no other origin), so text
 * from devices that reached the page could not run even if it were parsed as markup (the script
 * writes it as text only). */
#ifndef RODA_PAGE_H
#define RODA_PAGE_H

#include <stddef.h>

#define RODA_PAGE_CSP                                                                              \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src "        \
    "'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

typedef struct roda_page_file {
    const char *path; /* "/" for index.html, else "/<name>" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t size;
} roda_page_file_t;

/* The embedded files (generated). */
extern const roda_page_file_t roda_page_files[];
extern const unsigned roda_page_file_count;

/* The file served at `url`, NULL when none. */
const roda_page_file_t *roda_page_find(const char *url);

#endif
