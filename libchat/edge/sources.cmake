# libchat/edge: the public entry points that wire the layers together.
list(APPEND CHAT_SOURCES edge/open.c)
