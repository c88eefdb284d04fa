/*
 * Unit tests of the S3 store's AWS Signature V4 code (backends/s3/sigv4.c)
 * against the values AWS publishes: the GET-object example of "Signature
 * Calculations for the Authorization Header: Transferring Payload in a Single
 * Chunk" (S3 API reference) and the signing-key example of the general SigV4
 * documentation. The signatures the real server accepts are tested end to end
 * by contract_blob_s3 and integration_blob_s3_failures.
 */
#include <string.h>

#include "backends/s3/sigv4.h"
#include "testutil.h"

#define EXAMPLE_ACCESS "AKIAIOSFODNN7EXAMPLE"
#define EXAMPLE_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

START_TEST(test_aws_get_object_example)
{
    /* Headers deliberately out of order: signing sorts them. */
    chati_sigv4_header hs[] = {
        {"x-amz-date", "20130524T000000Z"},
        {"range", "bytes=0-9"},
        {"host", "examplebucket.s3.amazonaws.com"},
        {"x-amz-content-sha256", EMPTY_SHA256},
    };
    chati_sigv4_request r = {
        .method = "GET", .path = "/test.txt", .query = "", .headers = hs,
        .n_headers = CHATI_ARRAY_LEN(hs), .payload_hash = EMPTY_SHA256,
        .amz_date = "20130524T000000Z", .region = "us-east-1", .service = "s3",
        .access_key = EXAMPLE_ACCESS, .secret_key = EXAMPLE_SECRET,
    };
    chati_buf authz = {0}, canon = {0}, sts = {0};
    ck_assert_chat_ok(chati_sigv4_sign(&r, &authz, &canon, &sts));
    ck_assert_str_eq(canon.data, "GET\n"
                                 "/test.txt\n"
                                 "\n"
                                 "host:examplebucket.s3.amazonaws.com\n"
                                 "range:bytes=0-9\n"
                                 "x-amz-content-sha256:" EMPTY_SHA256 "\n"
                                 "x-amz-date:20130524T000000Z\n"
                                 "\n"
                                 "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA256);
    ck_assert_str_eq(sts.data,
                     "AWS4-HMAC-SHA256\n"
                     "20130524T000000Z\n"
                     "20130524/us-east-1/s3/aws4_request\n"
                     "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    ck_assert_str_eq(authz.data,
                     "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                     "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                     "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    chati_buf_free(&authz);
    chati_buf_free(&canon);
    chati_buf_free(&sts);
}
END_TEST

START_TEST(test_signing_key_example)
{
    uint8_t key[32];
    char hex[65];
    chati_sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1",
                            "iam", key);
    chati_hex_encode(key, sizeof key, hex);
    ck_assert_str_eq(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}
END_TEST

static void assert_encoded(const char *in, bool keep_slash, const char *want)
{
    chati_buf b = {0};
    ck_assert_chat_ok(chati_sigv4_encode(&b, in, strlen(in), keep_slash));
    ck_assert_str_eq(b.data, want);
    chati_buf_free(&b);
}

START_TEST(test_uri_encoding)
{
    /* Unreserved characters stay; everything else is %XX in upper case. */
    assert_encoded("AZaz09-._~", true, "AZaz09-._~");
    assert_encoded("a b/c", true, "a%20b/c");
    assert_encoded("a b/c", false, "a%20b%2Fc");
    assert_encoded("test$file.text", true, "test%24file.text");
    assert_encoded("a%2Fb", true, "a%252Fb");
    assert_encoded("!@$&()+,;=[]{}*'", true, "%21%40%24%26%28%29%2B%2C%3B%3D%5B%5D%7B%7D%2A%27");
    assert_encoded("./x", true, "./x");
    assert_encoded("\xc3\xa9", true, "%C3%A9");
    assert_encoded("", true, "");
}
END_TEST

START_TEST(test_query_and_payload_are_signed)
{
    chati_sigv4_header hs[] = {{"host", "h"}, {"x-amz-date", "20240101T000000Z"}};
    chati_sigv4_request r = {
        .method = "PUT", .path = "/b/k", .query = "partNumber=1&uploadId=abc",
        .headers = hs, .n_headers = 2, .payload_hash = EMPTY_SHA256,
        .amz_date = "20240101T000000Z", .region = "eu-west-1", .service = "s3",
        .access_key = "A", .secret_key = "S",
    };
    chati_buf a1 = {0}, a2 = {0}, a3 = {0}, canon = {0};
    ck_assert_chat_ok(chati_sigv4_sign(&r, &a1, &canon, NULL));
    ck_assert_str_eq(canon.data, "PUT\n/b/k\npartNumber=1&uploadId=abc\nhost:h\n"
                                 "x-amz-date:20240101T000000Z\n\nhost;x-amz-date\n" EMPTY_SHA256);
    r.query = "partNumber=2&uploadId=abc";
    ck_assert_chat_ok(chati_sigv4_sign(&r, &a2, NULL, NULL));
    ck_assert_str_ne(a1.data, a2.data);
    r.query = "partNumber=1&uploadId=abc";
    r.secret_key = "T";
    ck_assert_chat_ok(chati_sigv4_sign(&r, &a3, NULL, NULL));
    ck_assert_str_ne(a1.data, a3.data);
    ck_assert(strstr(a1.data, "Credential=A/20240101/eu-west-1/s3/aws4_request,") != NULL);
    chati_buf_free(&a1);
    chati_buf_free(&a2);
    chati_buf_free(&a3);
    chati_buf_free(&canon);
}
END_TEST

START_TEST(test_amz_date)
{
    char d[17];
    chati_sigv4_amz_date(1369353600, d); /* 2013-05-24 00:00:00 UTC */
    ck_assert_str_eq(d, "20130524T000000Z");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("s3 sigv4");
    TCase *tc = tcase_create("sigv4");
    tcase_add_test(tc, test_aws_get_object_example);
    tcase_add_test(tc, test_signing_key_example);
    tcase_add_test(tc, test_uri_encoding);
    tcase_add_test(tc, test_query_and_payload_are_signed);
    tcase_add_test(tc, test_amz_date);
    suite_add_tcase(s, tc);
    return chat_test_run(s);
}
