/* libcurl's global set-up, once per process (see curl_global.h). */
#include <pthread.h>

#include <curl/curl.h>

#include "backends/curl_global.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode result;

static void init_once(void)
{
    result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

chat_err chati_curl_global_init(void)
{
    pthread_once(&once, init_once);
    if (result != CURLE_OK)
        return chati_fail(CHAT_ERR_INTERNAL, "curl_global_init: %s", curl_easy_strerror(result));
    return CHAT_OK;
}
