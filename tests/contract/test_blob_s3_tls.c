/*
 * The S3 store over https (S3Proxy with a self-signed certificate): the
 * certificate is verified, so without ca_file the store refuses to open with
 * a clear invalid_config; with it, objects go back and forth.
 *
 * Run as: s3.sh exec THIS {s3_endpoint} {s3_ca}, with CHAT_TEST_S3_TLS=1.
 */
#include <stdio.h>
#include <string.h>

#include <chat/backend/blob.h>

#include "backends/builtin.h"
#include "core/internal.h"
#include "testutil.h"

static const char *endpoint, *ca;

START_TEST(test_untrusted_certificate_is_refused)
{
    chati_backends_register_builtin(); /* no chat_open here to add them */
    const chat_blob_ops *S = chati_backend_find(CHATI_IFACE_BLOB, "s3://x");
    ck_assert_ptr_nonnull(S);
    char url[1024];
    snprintf(url, sizeof url, "s3://chatkey:chatsecret@chat-tls?endpoint=%s&create_bucket=1",
             endpoint);
    void *impl = NULL;
    ck_assert_chat_err(S->open(url, NULL, &impl), CHAT_ERR_INVALID_CONFIG);
    fprintf(stderr, "untrusted: %s\n", chati_errmsg());
    ck_assert(strstr(chati_errmsg(), "TLS") != NULL);
    ck_assert(strstr(chati_errmsg(), "certificate") != NULL);

    snprintf(url, sizeof url,
             "s3://chatkey:chatsecret@chat-tls?endpoint=%s&create_bucket=1&ca_file=%s", endpoint,
             ca);
    ck_assert_chat_ok(S->open(url, NULL, &impl));
    ck_assert_chat_ok(S->put(impl, "k", "secret bytes", 12, NULL));
    void *data = NULL;
    size_t len = 0;
    ck_assert_chat_ok(S->get(impl, "k", &data, &len));
    ck_assert_uint_eq(len, 12);
    ck_assert(memcmp(data, "secret bytes", 12) == 0);
    chat_free(data);
    S->close(impl);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc < 3 || strncmp(argv[1], "https://", 8) != 0) {
        fprintf(stderr, "usage: %s https://HOST:PORT CA.pem (through s3.sh exec, "
                        "CHAT_TEST_S3_TLS=1)\n", argv[0]);
        return 1;
    }
    endpoint = argv[1];
    ca = argv[2];
    Suite *s = suite_create("s3 tls");
    TCase *tc = tcase_create("tls");
    tcase_add_test(tc, test_untrusted_certificate_is_refused);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
