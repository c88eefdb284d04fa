/*
 * bench_rpc: RPC round trips between a service and its callers, the path
 * every method of the distributed deployment takes (api/svc_rpc.c over
 * rpc/client.c to rpc/server.c and api/serve.c). A service on a fresh data
 * directory serves api.test on loopback TCP; T threads call it N times each
 * through one RPC service client. Prints calls/s and the latency percentiles.
 *
 *   bench_rpc [-t THREADS] [-n CALLS_PER_THREAD] [-s PAYLOAD_BYTES]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "api/serve.h"
#include "api/svc.h"
#include "domain/ctx.h"

typedef struct worker {
    chati_svc *svc;
    const chati_method *m;
    const char *payload;
    int n;
    int64_t *lat_us;
    int errors;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    Chat__Api__ApiTestRequest rq = CHAT__API__API_TEST_REQUEST__INIT;
    rq.foo = (char *)w->payload;
    for (int i = 0; i < w->n; i++) {
        ProtobufCMessage *resp = NULL;
        int64_t t0 = chati_mono_us();
        if (chati_svc_call(w->svc, w->m, NULL, &rq.base, 5000, &resp) != CHAT_OK)
            w->errors++;
        w->lat_us[i] = chati_mono_us() - t0;
        if (resp)
            protobuf_c_message_free_unpacked(resp, NULL);
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static chat_ctx *open_ctx(const char *dir, const char *rpc_auth)
{
    chat_config *cfg = NULL;
    char err[256];
    chat_ctx *ctx = NULL;
    if (chat_config_new(&cfg) != CHAT_OK ||
        chat_config_set(cfg, "data_dir", dir, err, sizeof err) != CHAT_OK ||
        chat_config_set(cfg, "jwt.secret", "bench-rpc-shared-secret", err, sizeof err) != CHAT_OK ||
        (rpc_auth && chat_config_set(cfg, "rpc.auth", rpc_auth, err, sizeof err) != CHAT_OK) ||
        chat_open(&ctx, cfg, err, sizeof err) != CHAT_OK) {
        fprintf(stderr, "bench_rpc: open: %s\n", err);
        exit(1);
    }
    chat_config_free(cfg);
    return ctx;
}

int main(int argc, char **argv)
{
    int threads = 4, n = 5000, size = 100, opt;
    while ((opt = getopt(argc, argv, "t:n:s:")) != -1) {
        if (opt == 't')
            threads = atoi(optarg);
        else if (opt == 'n')
            n = atoi(optarg);
        else if (opt == 's')
            size = atoi(optarg);
        else
            return 2;
    }
    if (threads < 1 || n < 1 || size < 0) {
        fprintf(stderr, "usage: bench_rpc [-t THREADS] [-n CALLS] [-s BYTES]\n");
        return 2;
    }
    char dir[] = "/tmp/bench-rpc-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    chat_ctx *server = open_ctx(dir, NULL);
    chati_api_server *srv = NULL;
    if (chati_api_server_start(server, "tcp://127.0.0.1:0", 64, NULL, &srv) != CHAT_OK) {
        fprintf(stderr, "bench_rpc: server: %s\n", chati_errmsg());
        return 1;
    }
    char cdir[sizeof dir + 8];
    snprintf(cdir, sizeof cdir, "%s/client", dir);
    chat_ctx *client = open_ctx(cdir, chati_api_server_url(srv));
    chati_svc *svc = NULL;
    if (chati_svc_rpc(client, &svc) != CHAT_OK)
        return 1;
    char *payload = malloc((size_t)size + 1);
    memset(payload, 'x', (size_t)size);
    payload[size] = '\0';
    worker *w = calloc((size_t)threads, sizeof *w);
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    const chati_method *m = chati_method_by_name("api.test");
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){svc, m, payload, n, calloc((size_t)n, sizeof(int64_t)), 0};
    }
    /* Warm-up: connections up, handler threads started. */
    worker warm = {svc, m, payload, 200, calloc(200, sizeof(int64_t)), 0};
    run(&warm);
    int64_t t0 = chati_mono_us();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, run, &w[i]);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double secs = (double)(chati_mono_us() - t0) / 1e6;
    size_t total = (size_t)threads * (size_t)n;
    int64_t *all = malloc(total * sizeof *all);
    int errors = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + (size_t)i * (size_t)n, w[i].lat_us, (size_t)n * sizeof *all);
        errors += w[i].errors;
    }
    qsort(all, total, sizeof *all, cmp_i64);
    printf("rpc api.test: %d threads x %d calls, %d-byte payload: %.0f calls/s, "
           "p50 %lld us, p99 %lld us, max %lld us, %d errors\n",
           threads, n, size, (double)total / secs, (long long)all[total / 2],
           (long long)all[total * 99 / 100], (long long)all[total - 1], errors);
    for (int i = 0; i < threads; i++)
        free(w[i].lat_us);
    free(warm.lat_us);
    free(all);
    free(w);
    free(t);
    free(payload);
    chati_svc_close(svc);
    chat_close(client);
    chati_api_server_stop(srv);
    chat_close(server);
    char cmd[sizeof dir + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return errors ? 1 : 0;
}
