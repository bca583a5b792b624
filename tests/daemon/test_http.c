/* test_http.c - the HTTP server in-process, so that it also runs under ASan/UBSan and TSan:
 * routes over raw sockets, SSE resume with a live append, concurrent scrapes and streams, bind
 * errors and IPv6. The full real-process suite (curl, promtool, hostile clients) is
 * test_http.sh. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "fake_alerts.h"
#include "roda_http.h"

static roda_http_t *http;
static uint16_t port;

static void scrape(void *context, roda_metrics_t *m)
{
    (void)context;
    roda_metrics_family(m, "test_scrapes_total", RODA_METRIC_COUNTER, "Scrapes.");
    roda_metrics_u64(m, NULL, 0, 1);
}

static roda_http_config_t config(const char *bind, uint16_t at)
{
    return (roda_http_config_t){.bind = bind,
                                .port = at,
                                .max_connections = 64,
                                .timeout_s = 5,
                                .max_sse_clients = 24,
                                .sse_heartbeat_ms = 200,
                                .request_memory = 16384,
                                .metrics_buffer = roda_metrics_buffer_size(0, 0)};
}

static void setup(void)
{
    static bool initialised;
    if (!initialised) {
        ck_assert(fake_alerts_init(16));
        for (int i = 0; i < 10; i++)
            fake_alerts_append();
        initialised = true;
    }
    roda_http_config_t c = config("127.0.0.1", 0);
    roda_http_providers_t p = {NULL, fake_alerts_ready, NULL};
    ck_assert_int_eq(roda_http_create(&c, &p, &http), RODA_SUCCESS);
    ck_assert_int_eq(roda_http_set_alerts(http, &fake_alerts_source), RODA_SUCCESS);
    ck_assert_int_eq(roda_http_set_recent(http, fake_alerts_recent, NULL, 10), RODA_SUCCESS);
    ck_assert_int_eq(roda_http_set_recent(http, NULL, NULL, 10), RODA_ERROR_INVALID_ARG);
    ck_assert_int_eq(roda_http_add_metrics(http, scrape, NULL), RODA_SUCCESS);
    ck_assert_int_eq(roda_http_start(http), RODA_SUCCESS);
    port = roda_http_port(http);
    ck_assert_uint_ne(port, 0);
}

static void teardown(void)
{
    roda_http_destroy(http);
}

/* Sends `request` and reads the reply into `buf` until the server closes, `until` appears, or
 * 3 s pass. Returns the bytes read. */
static size_t exchange(int family, const char *request, const char *until, char *buf, size_t size)
{
    int fd = socket(family, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct timeval timeout = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    struct sockaddr_storage address;
    memset(&address, 0, sizeof address);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&address;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&address;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(port);
        a->sin6_addr = in6addr_loopback;
        len = sizeof *a;
    }
    if (connect(fd, (struct sockaddr *)&address, len) != 0)
        ck_abort_msg("connect to port %u: %s", port, strerror(errno));
    ck_assert_int_eq(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t)strlen(request));
    size_t used = 0;
    while (used + 1 < size) {
        ssize_t n = recv(fd, buf + used, size - 1 - used, 0);
        if (n <= 0)
            break;
        used += (size_t)n;
        buf[used] = '\0';
        if (until != NULL && strstr(buf, until) != NULL)
            break;
    }
    buf[used] = '\0';
    close(fd);
    return used;
}

static const char *get(const char *path)
{
    static _Thread_local char buf[65536];
    char request[512];
    snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
             path);
    exchange(AF_INET, request, NULL, buf, sizeof buf);
    return buf;
}

static void assert_status(const char *reply, const char *status)
{
    if (strncmp(reply, status, strlen(status)) != 0)
        ck_abort_msg("expected '%s', got '%.80s'", status, reply);
}

START_TEST(routes)
{
    assert_status(get("/healthz"), "HTTP/1.1 200 ");
    assert_status(get("/readyz"), "HTTP/1.1 200 ");
    assert_status(get("/nothing"), "HTTP/1.1 404 ");
    assert_status(get("/sensors/1"), "HTTP/1.1 404 "); /* no sensor provider */
    assert_status(get("/sensors/x"), "HTTP/1.1 400 ");
    const char *recent = get("/alerts/recent?limit=2");
    assert_status(recent, "HTTP/1.1 200 ");
    ck_assert_ptr_nonnull(strstr(recent, "\r\n\r\n[{\"id\":8,"));
    char buf[4096];
    exchange(AF_INET, "POST /metrics HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", NULL, buf,
             sizeof buf);
    assert_status(buf, "HTTP/1.1 405 ");
    ck_assert_ptr_nonnull(strstr(buf, "Allow: GET, HEAD\r\n"));
    const char *metrics = get("/metrics");
    assert_status(metrics, "HTTP/1.1 200 ");
    ck_assert_ptr_nonnull(strstr(metrics, "\ntest_scrapes_total 1\n"));
    ck_assert_ptr_nonnull(strstr(metrics, "\nroda_http_responses_total{code=\"4xx\"} 4\n"));
    roda_http_stats_t st;
    roda_http_stats(http, &st);
    ck_assert_uint_eq(st.responses_4xx, 4);
}
END_TEST

START_TEST(readiness_follows_the_provider)
{
    fake_alerts_toggle_ready();
    const char *reply = get("/readyz");
    fake_alerts_toggle_ready();
    assert_status(reply, "HTTP/1.1 503 ");
    ck_assert_ptr_nonnull(strstr(reply, "not ready: mqtt broker not connected"));
}
END_TEST

/* Appends one alert after a short delay, while a stream waits for it. */
static void *append_later(void *arg)
{
    (void)arg;
    usleep(300000);
    fake_alerts_append();
    return NULL;
}

START_TEST(sse_resume_then_live)
{
    pthread_t writer;
    pthread_create(&writer, NULL, append_later, NULL);
    char buf[16384];
    exchange(AF_INET, "GET /alerts HTTP/1.1\r\nHost: t\r\nLast-Event-ID: 7\r\n\r\n", "\nid: 10\n",
             buf, sizeof buf);
    pthread_join(writer, NULL);
    assert_status(buf, "HTTP/1.1 200 ");
    ck_assert_ptr_nonnull(strstr(buf, "Content-Type: text/event-stream"));
    ck_assert_ptr_null(strstr(buf, "\nid: 7\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\nid: 8\nevent: alert\ndata: {\"id\":8,"));
    ck_assert_ptr_nonnull(strstr(buf, "\nid: 9\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\nid: 10\n"));
}
END_TEST

/* Scrapes and streams from several threads at once (for TSan). */
static void *client(void *arg)
{
    int which = *(const int *)arg;
    char buf[16384];
    for (int i = 0; i < 10; i++) {
        if (which % 2 == 0) {
            const char *reply = get(i % 2 ? "/metrics" : "/healthz");
            if (strncmp(reply, "HTTP/1.1 200 ", 13) != 0)
                return (void *)1;
        } else {
            exchange(AF_INET,
                     "GET /alerts?severity=warning HTTP/1.1\r\nHost: t\r\n"
                     "Last-Event-ID: 0\r\n\r\n",
                     "event: alert", buf, sizeof buf);
            if (strstr(buf, "\"severity\":\"warning\"") == NULL ||
                strstr(buf, "\"severity\":\"critical\"") != NULL)
                return (void *)1;
        }
    }
    return NULL;
}

START_TEST(concurrent_clients)
{
    pthread_t threads[4];
    static const int which[4] = {0, 1, 2, 3};
    for (int i = 0; i < 4; i++)
        pthread_create(&threads[i], NULL, client, (void *)&which[i]);
    for (int i = 0; i < 3; i++)
        fake_alerts_append();
    for (int i = 0; i < 4; i++) {
        void *failed;
        pthread_join(threads[i], &failed);
        ck_assert_ptr_null(failed);
    }
}
END_TEST

START_TEST(bind_errors_and_ipv6)
{
    roda_http_providers_t none = {0};
    roda_http_t *other = NULL;
    roda_http_config_t c = config("not-an-address", 0);
    ck_assert_int_eq(roda_http_create(&c, &none, &other), RODA_ERROR_INVALID_ARG);
    c = config("127.0.0.1", port); /* taken by the fixture's server */
    ck_assert_int_eq(roda_http_create(&c, &none, &other), RODA_SUCCESS);
    ck_assert_int_eq(roda_http_start(other), RODA_ERROR_SYSTEM);
    roda_http_destroy(other);
    c = config("::1", 0);
    ck_assert_int_eq(roda_http_create(&c, &none, &other), RODA_SUCCESS);
    if (roda_http_start(other) == RODA_SUCCESS) { /* hosts without IPv6 cannot bind ::1 */
        uint16_t saved = port;
        port = roda_http_port(other);
        char buf[1024];
        exchange(AF_INET6, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", "ok", buf, sizeof buf);
        assert_status(buf, "HTTP/1.1 200 ");
        exchange(AF_INET6, "GET /alerts HTTP/1.1\r\nHost: t\r\n\r\n", NULL, buf, sizeof buf);
        port = saved;
        assert_status(buf, "HTTP/1.1 503 "); /* no alert source */
    }
    roda_http_destroy(other);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("http");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, routes);
    tcase_add_test(tc, readiness_follows_the_provider);
    tcase_add_test(tc, sse_resume_then_live);
    tcase_add_test(tc, concurrent_clients);
    tcase_add_test(tc, bind_errors_and_ipv6);
    suite_add_tcase(s, tc);
    SRunner *runner = srunner_create(s);
    srunner_set_fork_status(runner, CK_NOFORK);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
