/* roda_http_probe.c - GET /healthz of the gateway's own HTTP server with libcurl (see
 * roda_http_probe.h). */
#include "roda_http_probe.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

static size_t discard(char *data, size_t size, size_t count, void *context)
{
    (void)data;
    (void)context;
    return size * count;
}

bool roda_http_probe(const char *bind, uint16_t port, bool tls, uint32_t timeout_ms, char *why,
                     size_t size)
{
    if (port == 0) {
        snprintf(why, size, "http.port is 0 (picked at start): give a fixed port to probe it");
        return false;
    }
    const char *host = bind;
    if (strcmp(bind, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(bind, "::") == 0)
        host = "::1";
    char url[128];
    snprintf(url, sizeof url,
             strchr(host, ':') != NULL ? "%s://[%s]:%u/healthz" : "%s://%s:%u/healthz",
             tls ? "https" : "http", host, (unsigned)port);
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(why, size, "%s: no curl handle", url);
        return false;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    long status = 0;
    CURLcode code = curl_easy_perform(curl);
    if (code == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    if (code != CURLE_OK)
        snprintf(why, size, "%s: %s", url, curl_easy_strerror(code));
    else if (status != 200)
        snprintf(why, size, "%s: HTTP %ld", url, status);
    return code == CURLE_OK && status == 200;
}
