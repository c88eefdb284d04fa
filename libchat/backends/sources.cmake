# The backends' edge: the list of built-in backends (builtin.c: the embedded
# ones and each heavy one whose CHAT_WITH_* is on) and the public
# chat_*_register functions that add them before an application's own.
list(APPEND CHAT_SOURCES backends/builtin.c backends/register.c)
