#include <chat/backend/store.h>
#include "backends/builtin.h"
const chat_channel_store_ops chati_pg_channel_ops = {.version = CHAT_STORE_V1, .scheme = "postgresql"};
