/* Errors, allocation and text, the saved token and password entry for the
 * `chat` client. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

#define TOKEN_MAX 8192
#define PASSWORD_MAX 1024

_Noreturn void cli_die(const char *code, const char *fmt, ...)
{
    fflush(stdout);
    fprintf(stderr, "chat: %s: ", code);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(CLI_EXIT_ERROR);
}

void cli_note(const char *fmt, ...)
{
    fflush(stdout);
    fputs("chat: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void *cli_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        cli_die("no_memory", "out of memory");
    return p;
}

char *cli_xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        cli_die("no_memory", "out of memory");
    return p;
}

/* ------------------------------------------------------------- text --- */

/* Room for extra more bytes and the NUL. */
static void buf_reserve(cli_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL)
        cli_die("no_memory", "out of memory");
    b->data = p;
    b->cap = cap;
}

void cli_buf_add(cli_buf *b, const void *data, size_t len)
{
    buf_reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

static void buf_vprintf(cli_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    if (n < 0)
        cli_die("internal_error", "bad format");
    buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
    va_end(again);
    b->len += (size_t)n;
}

void cli_buf_printf(cli_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void cli_buf_free(cli_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *cli_xprintf(const char *fmt, ...)
{
    cli_buf b = {0};
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return b.data;
}

/* ------------------------------------------------------------ token --- */

/* $XDG_CONFIG_HOME/libchat, or ~/.config/libchat; NULL when neither is known. */
static char *config_dir(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    /* The XDG spec says a relative value is to be ignored. */
    if (xdg && xdg[0] == '/')
        return cli_xprintf("%s/libchat", xdg);
    const char *home = getenv("HOME");
    if (home && *home)
        return cli_xprintf("%s/.config/libchat", home);
    return NULL;
}

char *cli_token_path(void)
{
    char *dir = config_dir();
    if (dir == NULL)
        return NULL;
    char *p = cli_xprintf("%s/token", dir);
    free(dir);
    return p;
}

/* Trims surrounding white space in place. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

void cli_need_token(cli *c)
{
    if (c->token)
        return;
    const char *env = getenv("CHAT_TOKEN");
    if (env && *env) {
        c->token = cli_xstrdup(env);
        return;
    }
    char *path = cli_token_path();
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f == NULL) {
        if (path && errno != ENOENT)
            cli_die("not_authed", "cannot read %s: %s", path, strerror(errno));
        cli_die("not_authed", "not logged in: run `chat login EMAIL` (or `chat signup EMAIL`), "
                              "or set CHAT_TOKEN");
    }
    char buf[TOKEN_MAX];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *t = trim(buf);
    if (*t == '\0')
        cli_die("not_authed", "%s is empty: run `chat login EMAIL`", path);
    c->token = cli_xstrdup(t);
    free(path);
}

/* mkdir -p with mode 0700 for what it creates. */
static void make_dirs(const char *dir)
{
    char *p = cli_xstrdup(dir);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char was = *s;
            *s = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST)
                cli_die("config_error", "cannot create %s: %s", p, strerror(errno));
            *s = was;
            if (was == '\0')
                break;
        }
    }
    free(p);
}

char *cli_token_save(const char *token)
{
    char *dir = config_dir();
    if (dir == NULL)
        cli_die("config_error", "cannot save the token: set HOME or XDG_CONFIG_HOME");
    make_dirs(dir);
    char *path = cli_xprintf("%s/token", dir);
    char *tmp = cli_xprintf("%s/.token.%ld", dir, (long)getpid());
    free(dir);
    /* Created 0600 from the start, so the token is never readable by others. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        cli_die("config_error", "cannot write %s: %s", tmp, strerror(errno));
    size_t len = strlen(token);
    bool ok = fchmod(fd, 0600) == 0 && write(fd, token, len) == (ssize_t)len &&
              write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved = errno;
        unlink(tmp);
        cli_die("config_error", "cannot write %s: %s", path, strerror(saved));
    }
    free(tmp);
    return path;
}

/* --------------------------------------------------------- password --- */

/* Ctrl-C at the prompt must not leave the terminal without echo. */
static int tty_fd = -1;
static struct termios tty_saved;

static void restore_tty_and_die(int sig)
{
    tcsetattr(tty_fd, TCSAFLUSH, &tty_saved);
    if (write(tty_fd, "\n", 1) < 0) {
        /* cosmetic */
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Reads one line from the terminal with echo off. Returns false when there is
 * no terminal. */
static bool read_tty_password(const char *prompt, char *out, size_t n)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return false;
    struct termios old, quiet;
    bool restore = tcgetattr(fd, &old) == 0;
    if (!restore) {
        close(fd);
        return false;
    }
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
    quiet.c_lflag |= ICANON;
    tty_fd = fd;
    tty_saved = old;
    struct sigaction sa = {0}, old_int, old_term, old_quit;
    sa.sa_handler = restore_tty_and_die;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGQUIT, &sa, &old_quit);
    if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        close(fd);
        return false;
    }
    size_t len = 0;
    char ch;
    ssize_t r;
    while ((r = read(fd, &ch, 1)) == 1 && ch != '\n' && ch != '\r')
        if (len + 1 < n)
            out[len++] = ch;
    out[len] = '\0';
    int saved = errno;
    tcsetattr(fd, TCSAFLUSH, &old);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGQUIT, &old_quit, NULL);
    if (write(fd, "\n", 1) < 0) {
        /* The newline is cosmetic. */
    }
    close(fd);
    errno = saved;
    if (r < 0)
        cli_die("password_required", "cannot read the password: %s", strerror(errno));
    return true;
}

char *cli_password(bool confirm)
{
    const char *env = getenv("CHAT_PASSWORD");
    if (env && *env)
        return cli_xstrdup(env);
    char a[PASSWORD_MAX], b[PASSWORD_MAX];
    if (!read_tty_password("Password: ", a, sizeof a))
        cli_die("password_required", "no terminal to ask on: set CHAT_PASSWORD");
    if (a[0] == '\0')
        cli_die("password_required", "the password is empty");
    if (confirm) {
        read_tty_password("Repeat password: ", b, sizeof b);
        bool same = strcmp(a, b) == 0;
        memset(b, 0, sizeof b);
        if (!same) {
            memset(a, 0, sizeof a);
            cli_die("password_mismatch", "the two passwords differ");
        }
    }
    char *p = cli_xstrdup(a);
    memset(a, 0, sizeof a);
    return p;
}
