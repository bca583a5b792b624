/* roda_http_security.c - HTTPS material and request admission: PEM files, client certificates
 * (GnuTLS) and bcrypt basic auth (libxcrypt) (see roda_http_security.h). */
#include "roda_http_security.h"

#include <crypt.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a whole PEM file (at most RODA_HTTP_PEM_MAX bytes) that must contain `marker`. */
static roda_result_t read_pem(const char *path, const char *field, const char *marker, char **out,
                              char *why, size_t size)
{
    *out = NULL;
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        snprintf(why, size, "%s: cannot read %s: %s (the gateway's user needs read access)", field,
                 path, strerror(errno));
        return RODA_ERROR_IO;
    }
    char *text = malloc(RODA_HTTP_PEM_MAX + 1);
    size_t n = text != NULL ? fread(text, 1, RODA_HTTP_PEM_MAX + 1, file) : 0;
    fclose(file);
    if (text == NULL)
        return RODA_ERROR_NOMEM;
    if (n > RODA_HTTP_PEM_MAX) {
        free(text);
        snprintf(why, size, "%s: %s is larger than %u bytes", field, path, RODA_HTTP_PEM_MAX);
        return RODA_ERROR_INVALID_ARG;
    }
    text[n] = '\0';
    if (strstr(text, marker) == NULL) {
        free(text);
        snprintf(why, size, "%s: %s holds no PEM block \"%s\"", field, path, marker);
        return RODA_ERROR_INVALID_ARG;
    }
    *out = text;
    return RODA_SUCCESS;
}

/* "name:$2b$NN$<53 characters>" into the user table. */
static roda_result_t add_user(roda_http_security_t *s, const char *entry, char *why, size_t size)
{
    const char *colon = strchr(entry, ':');
    size_t name_length = colon != NULL ? (size_t)(colon - entry) : 0;
    const char *hash = colon != NULL ? colon + 1 : "";
    bool bcrypt = strlen(hash) == 60 && hash[0] == '$' && hash[1] == '2' &&
                  strchr("aby", hash[2]) != NULL && hash[3] == '$' && hash[6] == '$';
    if (name_length == 0 || name_length >= RODA_HTTP_USER_NAME_MAX || !bcrypt) {
        snprintf(why, size,
                 "http.basic_auth_users: '%.*s...' is not name:bcrypt-hash (a $2a$/$2b$/$2y$ "
                 "hash of 60 characters, e.g. from htpasswd -nbBC 10 NAME PASSWORD)",
                 (int)(name_length < 32 ? name_length : 32), entry);
        return RODA_ERROR_INVALID_ARG;
    }
    for (uint32_t i = 0; i < s->user_count; i++) {
        if (strlen(s->users[i].name) == name_length &&
            memcmp(s->users[i].name, entry, name_length) == 0) {
            snprintf(why, size, "http.basic_auth_users: user '%.*s' twice", (int)name_length,
                     entry);
            return RODA_ERROR_INVALID_ARG;
        }
    }
    memcpy(s->users[s->user_count].name, entry, name_length);
    s->users[s->user_count].name[name_length] = '\0';
    snprintf(s->users[s->user_count].hash, RODA_HTTP_HASH_MAX, "%s", hash);
    s->user_count++;
    return RODA_SUCCESS;
}

/* Whether the certificate and key load together (GnuTLS checks that the key is the
 * certificate's); else why. */
static roda_result_t pair_loads(const roda_http_security_t *s, const roda_http_security_config_t *c,
                                char *why, size_t size)
{
    gnutls_certificate_credentials_t credentials;
    if (gnutls_certificate_allocate_credentials(&credentials) != GNUTLS_E_SUCCESS)
        return RODA_ERROR_NOMEM;
    gnutls_datum_t cert = {(unsigned char *)s->cert_pem, (unsigned int)strlen(s->cert_pem)};
    gnutls_datum_t key = {(unsigned char *)s->key_pem, (unsigned int)strlen(s->key_pem)};
    int r = gnutls_certificate_set_x509_key_mem(credentials, &cert, &key, GNUTLS_X509_FMT_PEM);
    gnutls_certificate_free_credentials(credentials);
    if (r >= 0)
        return RODA_SUCCESS;
    snprintf(why, size, "http.tls_key_file: %s with the certificate %s does not load: %s",
             c->key_file, c->cert_file, gnutls_strerror(r));
    return RODA_ERROR_INVALID_ARG;
}

static bool set(const char *path)
{
    return path != NULL && path[0] != '\0';
}

roda_result_t roda_http_security_load(const roda_http_security_config_t *c, roda_http_security_t *s,
                                      char *why, size_t size)
{
    memset(s, 0, sizeof *s);
    roda_result_t r = RODA_SUCCESS;
    if (set(c->cert_file))
        r = read_pem(c->cert_file, "http.tls_cert_file", "-----BEGIN CERTIFICATE-----",
                     &s->cert_pem, why, size);
    if (r == RODA_SUCCESS && set(c->key_file))
        r = read_pem(c->key_file, "http.tls_key_file", "PRIVATE KEY-----", &s->key_pem, why, size);
    if (r == RODA_SUCCESS && s->cert_pem != NULL && s->key_pem != NULL)
        r = pair_loads(s, c, why, size);
    if (r == RODA_SUCCESS && set(c->client_ca_file))
        r = read_pem(c->client_ca_file, "http.tls_client_ca_file", "-----BEGIN CERTIFICATE-----",
                     &s->client_ca_pem, why, size);
    for (uint32_t i = 0; r == RODA_SUCCESS && i < c->user_count && i < RODA_HTTP_MAX_USERS; i++)
        r = add_user(s, c->users[i], why, size);
    if (r != RODA_SUCCESS)
        roda_http_security_free(s);
    return r;
}

void roda_http_security_free(roda_http_security_t *s)
{
    free(s->cert_pem);
    free(s->key_pem);
    free(s->client_ca_pem);
    memset(s, 0, sizeof *s);
}

/* The client's certificate, verified against the CA the server was given. */
static bool client_certificate_ok(struct MHD_Connection *connection)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (info == NULL || info->tls_session == NULL)
        return false;
    gnutls_session_t session = (gnutls_session_t)info->tls_session;
    unsigned int listed = 0;
    if (gnutls_certificate_get_peers(session, &listed) == NULL || listed == 0)
        return false;
    unsigned int status = 1;
    return gnutls_certificate_verify_peers2(session, &status) == GNUTLS_E_SUCCESS && status == 0;
}

/* Whether `password` hashes to `hash` (bcrypt through crypt(3)), compared in constant time. */
static bool password_ok(const char *password, const char *hash)
{
    struct crypt_data *data = calloc(1, sizeof *data);
    if (data == NULL)
        return false;
    const char *computed = crypt_r(password, hash, data);
    bool ok = false;
    if (computed != NULL && strlen(computed) == strlen(hash)) {
        unsigned char difference = 0;
        for (size_t i = 0; hash[i] != '\0'; i++)
            difference |= (unsigned char)(computed[i] ^ hash[i]);
        ok = difference == 0;
    }
    free(data);
    return ok;
}

roda_http_admission_t roda_http_security_admit(const roda_http_security_t *s,
                                               struct MHD_Connection *connection)
{
    if (s->client_ca_pem != NULL && !client_certificate_ok(connection))
        return RODA_HTTP_NO_CLIENT_CERTIFICATE;
    if (s->user_count == 0)
        return RODA_HTTP_ADMITTED;
    char *password = NULL;
    char *name = MHD_basic_auth_get_username_password(connection, &password);
    bool ok = false;
    if (name != NULL && password != NULL) {
        uint32_t user = s->user_count;
        for (uint32_t i = 0; i < s->user_count; i++)
            user = strcmp(name, s->users[i].name) == 0 ? i : user;
        /* An unknown name costs one bcrypt too: the time does not tell names apart. */
        bool match = password_ok(password, s->users[user < s->user_count ? user : 0].hash);
        ok = match && user < s->user_count;
    }
    MHD_free(name);
    MHD_free(password);
    return ok ? RODA_HTTP_ADMITTED : RODA_HTTP_UNAUTHORIZED;
}
