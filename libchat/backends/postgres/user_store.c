#include <chat/backend/store.h>
#include "backends/builtin.h"
const chat_user_store_ops chati_pg_user_ops = {.version = CHAT_STORE_V1, .scheme = "postgresql"};
