/* roda_http_security.h - HTTPS and who may ask: the HTTP server's TLS certificate, the client
 * certificates it requires, and basic-auth users with bcrypt-hashed passwords, as the Prometheus
 * exporter-toolkit web config does.
 *
 * Loading reads and checks every file once, at start (and for --check-config): PEM certificate
 * and key, loaded together by GnuTLS (a corrupt key, or one that is not the certificate's, fails),
 * an optional client CA bundle, and the users (`name:hash`, a bcrypt hash $2a$/$2b$/$2y$,
 * names unique). The server hands the PEM texts to libmicrohttpd (GnuTLS) and calls
 * roda_http_security_admit for every request.
 *
 * Admission: with a client CA, the request's TLS session must carry a client certificate that
 * GnuTLS verifies against it (403 otherwise). With users, the request must carry basic-auth
 * credentials of one of them whose password matches its hash (crypt(3) from libxcrypt, a
 * constant-time comparison); any failure is the same 401 with `WWW-Authenticate: Basic`, never
 * saying whether the name or the password was wrong. bcrypt costs milliseconds per request by
 * design: fine for scrapes and streams, and it slows guessing.
 *
 * Threads: load/free from one thread; admit from any connection thread. */
#ifndef RODA_HTTP_SECURITY_H
#define RODA_HTTP_SECURITY_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "roda_result.h"

#define RODA_HTTP_MAX_USERS 8u
#define RODA_HTTP_USER_NAME_MAX 64u
#define RODA_HTTP_HASH_MAX 128u
/* The largest PEM file read (a certificate chain or CA bundle). */
#define RODA_HTTP_PEM_MAX (1u << 20)

/* What to load: file paths ("" or NULL: off) and "name:hash" users. */
typedef struct roda_http_security_config {
    const char *cert_file;
    const char *key_file;
    const char *client_ca_file;
    uint32_t user_count;
    const char *users[RODA_HTTP_MAX_USERS];
} roda_http_security_config_t;

typedef struct roda_http_security {
    char *cert_pem; /* NULL: plain HTTP */
    char *key_pem;
    char *client_ca_pem; /* NULL: no client certificates asked */
    uint32_t user_count; /* 0: no basic auth */
    struct {
        char name[RODA_HTTP_USER_NAME_MAX];
        char hash[RODA_HTTP_HASH_MAX];
    } users[RODA_HTTP_MAX_USERS];
} roda_http_security_t;

/* Reads and checks everything `config` names into `security` (zeroed first). RODA_SUCCESS, or
 * RODA_ERROR_INVALID_ARG / RODA_ERROR_IO with "field: what is wrong" in `why` (nothing kept). */
roda_result_t roda_http_security_load(const roda_http_security_config_t *config,
                                      roda_http_security_t *security, char *why, size_t size);
void roda_http_security_free(roda_http_security_t *security);

typedef enum roda_http_admission {
    RODA_HTTP_ADMITTED = 0,
    RODA_HTTP_NO_CLIENT_CERTIFICATE = 1, /* 403 */
    RODA_HTTP_UNAUTHORIZED = 2,          /* 401 with WWW-Authenticate */
} roda_http_admission_t;

/* Whether the request on `connection` may be served. */
roda_http_admission_t roda_http_security_admit(const roda_http_security_t *security,
                                               struct MHD_Connection *connection);

#endif
