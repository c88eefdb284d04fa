/*
 * chat - the command-line client: sign up or log in, list channels, send,
 * read history, follow a channel live, upload a file. It speaks the gateway's
 * Slack-shaped Web API (nng's HTTP client) and its WebSocket event stream.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>

#include "cli.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PAGE 200                /* conversations.list page size */
#define HISTORY_PAGE_MAX 1000   /* the server's largest page (CHAT_MAX_PAGE) */
#define HISTORY_DEFAULT 20
#define UPLOAD_MAX ((size_t)1 << 30)
#define PING_EVERY_MS 30000     /* keeps idle links open and proves they are alive */
#define SILENCE_MAX_MS 75000    /* no frame (not even a pong) this long: reconnect */
#define BACKOFF_MAX_S 30

static const char usage_text[] =
    "usage: chat [--server URL] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  signup EMAIL [NAME]            create an account and save its token\n"
    "  login EMAIL                    log in and save the token\n"
    "  channels                       list the channels you can see\n"
    "  send CHANNEL [TEXT]            post TEXT (or standard input); prints its ts\n"
    "  history CHANNEL [-n N]         the last N messages, oldest first [20]\n"
    "  tail CHANNEL                   print new messages as they arrive; Ctrl-C stops\n"
    "  upload CHANNEL FILE [-m TEXT]  share FILE in CHANNEL with an optional comment\n"
    "  app create MANIFEST            make an app from a Slack app manifest (a JSON\n"
    "                                 file, - for standard input) in your workspace;\n"
    "                                 prints its ids, bot token, app-level token and\n"
    "                                 signing secret as KEY=VALUE lines\n"
    "\n"
    "CHANNEL is '#name' (quoted: the shell drops what follows an unquoted #), a bare\n"
    "name, or a channel id such as C0123456789. Put -- before a TEXT that starts with -.\n"
    "\n"
    "Options:\n"
    "  --server URL   the server [$CHAT_SERVER, else " CLI_DEFAULT_SERVER "]\n"
    "  -h, --help     show this help\n"
    "  --version      show the version\n"
    "\n"
    "Environment:\n"
    "  CHAT_SERVER    the server, when --server is not given\n"
    "  CHAT_TOKEN     a token to use instead of the saved one\n"
    "  CHAT_PASSWORD  the password for signup and login (else asked on the terminal)\n"
    "  CHAT_CA_FILE   CA certificates for an https:// server [the system's]\n"
    "\n"
    "signup and login save the token in $XDG_CONFIG_HOME/libchat/token\n"
    "(~/.config/libchat/token), readable only by you.\n"
    "Errors print \"chat: CODE: DETAIL\" and exit 1; a bad command line exits 2.\n";

static _Noreturn void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static _Noreturn void usage_error(const char *fmt, ...)
{
    fputs("chat: invalid_usage: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see chat --help)\n", stderr);
    exit(CLI_EXIT_USAGE);
}

/* ------------------------------------------------------ the command line --- */

typedef struct args {
    const char *server;
    const char *count;          /* -n */
    const char *comment;        /* -m */
    const char *pos[8];
    int npos;
    bool help;
} args;

/* Options may come anywhere; "--" ends them. Both "--opt V" and "--opt=V". */
static void parse_args(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (options && strcmp(s, "--") == 0) {
            options = false;
            continue;
        }
        if (!options || s[0] != '-' || strcmp(s, "-") == 0) {
            if (a->npos == (int)ARRAY_LEN(a->pos))
                usage_error("too many arguments");
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
            a->help = true;
            continue;
        }
        if (strcmp(s, "--version") == 0) {
            printf("chat (libchat) %s\n", chat_version());
            exit(0);
        }
        static const struct {
            const char *name, *alias;
            size_t off;
        } valued[] = {
            {"--server", NULL, offsetof(args, server)},
            {"-n", "--count", offsetof(args, count)},
            {"-m", "--message", offsetof(args, comment)},
        };
        bool known = false;
        for (size_t k = 0; k < ARRAY_LEN(valued) && !known; k++) {
            const char *names[2] = {valued[k].name, valued[k].alias};
            for (int j = 0; j < 2 && !known; j++) {
                const char *n = names[j];
                if (n == NULL)
                    continue;
                size_t nl = strlen(n);
                const char *v = NULL;
                if (strcmp(s, n) == 0) {
                    if (i + 1 >= argc)
                        usage_error("%s needs a value", s);
                    v = argv[++i];
                } else if (n[1] == '-' && strncmp(s, n, nl) == 0 && s[nl] == '=') {
                    v = s + nl + 1;
                } else if (n[1] != '-' && strncmp(s, n, 2) == 0 && s[2] != '\0') {
                    v = s + 2; /* -n5 */
                } else {
                    continue;
                }
                *(const char **)((char *)a + valued[k].off) = v;
                known = true;
            }
        }
        if (!known)
            usage_error("unknown option %s", s);
    }
}

/* The server's base URL: a scheme is added when missing, trailing '/' dropped. */
static char *server_url(const char *given)
{
    const char *s = given && *given ? given : getenv("CHAT_SERVER");
    if (s == NULL || *s == '\0')
        s = CLI_DEFAULT_SERVER;
    char *u = strstr(s, "://") ? cli_xstrdup(s) : cli_xprintf("http://%s", s);
    size_t n = strlen(u);
    while (n > 0 && u[n - 1] == '/')
        u[--n] = '\0';
    if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
        usage_error("the server URL must start with http:// or https:// (got %s)", u);
    return u;
}

/* ---------------------------------------------------------- channels --- */

typedef struct channel {
    char *id;
    char *name;                 /* without '#'; the id when unknown */
    bool is_member;
} channel;

static bool looks_like_id(const char *s)
{
    if (s[0] != 'C' && s[0] != 'G' && s[0] != 'D')
        return false;
    size_t n = 0;
    for (const char *p = s; *p; p++, n++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return false;
    return n >= 9;
}

/* Calls f on every channel the caller can see, page by page, until f returns
 * true. Returns whether f did. */
static bool each_channel(cli *c, bool (*f)(json_t *ch, void *arg), void *arg)
{
    char *cursor = NULL;
    bool stopped = false;
    do {
        json_t *req = json_pack("{s:s, s:i}", "types", "public_channel,private_channel",
                                "limit", PAGE);
        if (cursor)
            json_object_set_new(req, "cursor", json_string(cursor));
        free(cursor);
        cursor = NULL;
        json_t *r = cli_api(c, "conversations.list", req);
        size_t i;
        json_t *ch;
        json_array_foreach(json_object_get(r, "channels"), i, ch)
        {
            if (f(ch, arg)) {
                stopped = true;
                break;
            }
        }
        const char *next =
            json_string_value(json_object_get(json_object_get(r, "response_metadata"),
                                              "next_cursor"));
        if (!stopped && next && *next)
            cursor = cli_xstrdup(next);
        json_decref(r);
    } while (cursor);
    return stopped;
}

typedef struct find_name {
    const char *name;
    channel *out;
} find_name;

static bool match_name(json_t *ch, void *arg)
{
    find_name *fn = arg;
    const char *name = json_string_value(json_object_get(ch, "name"));
    const char *id = json_string_value(json_object_get(ch, "id"));
    if (name == NULL || id == NULL || strcasecmp(name, fn->name) != 0)
        return false;
    fn->out->id = cli_xstrdup(id);
    fn->out->name = cli_xstrdup(name);
    fn->out->is_member = json_is_true(json_object_get(ch, "is_member"));
    return true;
}

/* '#name', 'name' or an id. Dies with channel_not_found. */
static void resolve_channel(cli *c, const char *arg, channel *out)
{
    memset(out, 0, sizeof *out);
    if (looks_like_id(arg)) {
        out->id = cli_xstrdup(arg);
        /* The name reads better in notes; the id works either way. */
        json_t *r = cli_api_try(c, "conversations.info", json_pack("{s:s}", "channel", arg));
        json_t *ch = json_object_get(r, "channel");
        const char *name = json_string_value(json_object_get(ch, "name"));
        out->name = cli_xstrdup(name && *name ? name : arg);
        out->is_member = ch == NULL || json_is_true(json_object_get(ch, "is_member"));
        json_decref(r);
        return;
    }
    const char *name = arg[0] == '#' ? arg + 1 : arg;
    if (*name == '\0')
        usage_error("empty channel name");
    find_name fn = {name, out};
    if (!each_channel(c, match_name, &fn))
        cli_die("channel_not_found", "no channel #%s that you can see", name);
}

static void channel_free(channel *ch)
{
    free(ch->id);
    free(ch->name);
}

/* --------------------------------------------------- showing messages --- */

/* A user's name from users.info, remembered for the rest of the run. */
static const char *user_name(cli *c, const char *id)
{
    if (c->names == NULL)
        c->names = json_object();
    const char *known = json_string_value(json_object_get(c->names, id));
    if (known)
        return known;
    json_t *r = cli_api_try(c, "users.info", json_pack("{s:s}", "user", id));
    json_t *u = json_object_get(r, "user");
    const char *name = json_string_value(json_object_get(u, "name"));
    if (name == NULL || *name == '\0')
        name = json_string_value(json_object_get(u, "real_name"));
    /* A user we may not look up still gets a name: their id. */
    json_object_set_new(c->names, id, json_string(name && *name ? name : id));
    json_decref(r);
    return json_string_value(json_object_get(c->names, id));
}

/* A file's name; messages may carry only its id, then files.info has it. */
static const char *file_name(cli *c, json_t *f)
{
    const char *name = json_string_value(json_object_get(f, "name"));
    const char *title = json_string_value(json_object_get(f, "title"));
    const char *id = json_string_value(json_object_get(f, "id"));
    if (name && *name)
        return name;
    if (title && *title)
        return title;
    if (id == NULL || *id == '\0')
        return "(file)";
    if (c->files == NULL)
        c->files = json_object();
    const char *known = json_string_value(json_object_get(c->files, id));
    if (known)
        return known;
    json_t *r = cli_api_try(c, "files.info", json_pack("{s:s}", "file", id));
    json_t *file = json_object_get(r, "file");
    name = json_string_value(json_object_get(file, "name"));
    if (name == NULL || *name == '\0')
        name = json_string_value(json_object_get(file, "title"));
    json_object_set_new(c->files, id, json_string(name && *name ? name : id));
    json_decref(r);
    return json_string_value(json_object_get(c->files, id));
}

/* Slack's markup for mentions (<@U1>, <#C1|name>, <!here>) made readable;
 * everything else is kept as written. Free with cli_buf_free. */
static void readable_text(cli *c, const char *text, cli_buf *out)
{
    out->len = 0;
    cli_buf_add(out, "", 0);
    for (const char *p = text; *p;) {
        const char *end = p[0] == '<' ? strchr(p, '>') : NULL;
        if (end && (p[1] == '@' || p[1] == '#' || p[1] == '!')) {
            size_t n = (size_t)(end - p - 2);
            char inner[256];
            if (n > 0 && n < sizeof inner) {
                memcpy(inner, p + 2, n);
                inner[n] = '\0';
                char *label = strchr(inner, '|');
                if (label)
                    *label++ = '\0';
                bool done = true;
                if (p[1] == '@' && (inner[0] == 'U' || inner[0] == 'W'))
                    cli_buf_printf(out, "@%s", label && *label ? label : user_name(c, inner));
                else if (p[1] == '#' && label && *label)
                    cli_buf_printf(out, "#%s", label);
                else if (p[1] == '#')
                    cli_buf_printf(out, "#%s", inner);
                else if (p[1] == '!' && (strcmp(inner, "here") == 0 ||
                                         strcmp(inner, "channel") == 0 ||
                                         strcmp(inner, "everyone") == 0))
                    cli_buf_printf(out, "@%s", inner);
                else
                    done = false;
                if (done) {
                    p = end + 1;
                    continue;
                }
            }
        }
        cli_buf_add(out, p, 1);
        p++;
    }
}

/* "HH:MM name: text", continuation lines indented under the text. */
static void print_message(cli *c, json_t *m, const char *suffix)
{
    const char *ts = json_string_value(json_object_get(m, "ts"));
    const char *user = json_string_value(json_object_get(m, "user"));
    const char *text = json_string_value(json_object_get(m, "text"));
    const char *who = NULL;
    if (user && *user)
        who = user_name(c, user);
    if (who == NULL)
        who = json_string_value(json_object_get(m, "username"));
    if (who == NULL)
        who = json_string_value(json_object_get(m, "bot_id"));
    if (who == NULL)
        who = "?";
    char hhmm[8] = "--:--";
    if (ts) {
        time_t t = (time_t)strtoll(ts, NULL, 10);
        struct tm tm;
        if (localtime_r(&t, &tm))
            strftime(hhmm, sizeof hhmm, "%H:%M", &tm);
    }
    cli_buf body = {0};
    readable_text(c, text ? text : "", &body);
    printf("%s %s%s: ", hhmm, who, suffix ? suffix : "");
    for (const char *p = body.data; p && *p;) {
        size_t n = strcspn(p, "\n");
        fwrite(p, 1, n, stdout);
        p += n;
        if (*p == '\n') {
            fputs("\n      ", stdout);
            p++;
        }
    }
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(m, "files"), i, f)
    {
        const char *shown = file_name(c, f);
        printf("%s[file: %s]", body.len ? " " : "", shown);
        body.len = 1; /* later files need the space too */
    }
    putchar('\n');
    cli_buf_free(&body);
}

/* ---------------------------------------------------------- commands --- */

static void need_args(const args *a, int min, int max, const char *shape)
{
    if (a->npos - 1 < min || a->npos - 1 > max)
        usage_error("usage: chat %s %s", a->pos[0], shape);
}

static void reject_options(const args *a, bool count, bool comment)
{
    if (a->count && !count)
        usage_error("-n is for history");
    if (a->comment && !comment)
        usage_error("-m is for upload");
}

static void after_auth(json_t *r, const char *verb, const char *email)
{
    const char *token = json_string_value(json_object_get(r, "token"));
    if (token == NULL || *token == '\0')
        cli_die("invalid_response", "the server sent no token");
    char *path = cli_token_save(token);
    json_t *u = json_object_get(r, "user");
    const char *name = json_string_value(json_object_get(u, "name"));
    printf("%s as %s (%s) in team %s; token saved to %s\n", verb, name && *name ? name : email,
           json_string_value(json_object_get(r, "user_id")),
           json_string_value(json_object_get(r, "team_id")), path);
    const char *env = getenv("CHAT_TOKEN");
    if (env && *env)
        cli_note("note: CHAT_TOKEN is set and is used instead of the saved token");
    free(path);
}

static int cmd_signup(cli *c, const args *a)
{
    need_args(a, 1, 2, "EMAIL [NAME]");
    reject_options(a, false, false);
    char *pw = cli_password(true);
    json_t *req = json_pack("{s:s, s:s}", "email", a->pos[1], "password", pw);
    if (a->npos > 2)
        json_object_set_new(req, "real_name", json_string(a->pos[2]));
    memset(pw, 0, strlen(pw));
    free(pw);
    json_t *r = cli_api(c, "auth.signup", req);
    after_auth(r, "signed up", a->pos[1]);
    json_decref(r);
    return 0;
}

static int cmd_login(cli *c, const args *a)
{
    need_args(a, 1, 1, "EMAIL");
    reject_options(a, false, false);
    char *pw = cli_password(false);
    json_t *req = json_pack("{s:s, s:s}", "email", a->pos[1], "password", pw);
    memset(pw, 0, strlen(pw));
    free(pw);
    json_t *r = cli_api(c, "auth.login", req);
    after_auth(r, "logged in", a->pos[1]);
    json_decref(r);
    return 0;
}

static bool collect(json_t *ch, void *arg)
{
    json_array_append(arg, ch);
    return false;
}

static int cmd_channels(cli *c, const args *a)
{
    need_args(a, 0, 0, "(no arguments)");
    reject_options(a, false, false);
    cli_need_token(c);
    json_t *all = json_array();
    each_channel(c, collect, all);
    int width = 0;
    size_t i;
    json_t *ch;
    json_array_foreach(all, i, ch)
    {
        const char *name = json_string_value(json_object_get(ch, "name"));
        int n = name ? (int)strlen(name) : 0;
        if (n > width)
            width = n;
    }
    json_array_foreach(all, i, ch)
    {
        const char *name = json_string_value(json_object_get(ch, "name"));
        const char *id = json_string_value(json_object_get(ch, "id"));
        long long members = json_integer_value(json_object_get(ch, "num_members"));
        const char *topic =
            json_string_value(json_object_get(json_object_get(ch, "topic"), "value"));
        const char *purpose =
            json_string_value(json_object_get(json_object_get(ch, "purpose"), "value"));
        const char *about = topic && *topic ? topic : purpose ? purpose : "";
        char flags[64] = "";
        if (json_is_true(json_object_get(ch, "is_private")))
            strcat(flags, " private");
        if (json_is_true(json_object_get(ch, "is_archived")))
            strcat(flags, " archived");
        if (!json_is_true(json_object_get(ch, "is_member")))
            strcat(flags, " not-a-member");
        printf("#%-*s  %s  %4lld member%s%s%s%s\n", width, name ? name : "?", id ? id : "?",
               members, members == 1 ? " " : "s", flags, *about ? "  " : "", about);
    }
    if (json_array_size(all) == 0)
        cli_note("no channels");
    json_decref(all);
    return 0;
}

static char *read_stdin(void)
{
    cli_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        cli_buf_add(&b, chunk, n);
    if (ferror(stdin))
        cli_die("read_failed", "standard input: %s", strerror(errno));
    while (b.len > 0 && b.data[b.len - 1] == '\n')
        b.data[--b.len] = '\0';
    char *s = cli_xstrdup(b.len ? b.data : "");
    cli_buf_free(&b);
    return s;
}

static int cmd_send(cli *c, const args *a)
{
    need_args(a, 1, 2, "CHANNEL [TEXT]");
    reject_options(a, false, false);
    cli_need_token(c);
    char *text = NULL;
    if (a->npos > 2 && strcmp(a->pos[2], "-") != 0) {
        text = cli_xstrdup(a->pos[2]);
    } else {
        if (a->npos == 2 && isatty(STDIN_FILENO))
            cli_note("reading the message from the terminal; end it with Ctrl-D");
        text = read_stdin();
    }
    if (*text == '\0')
        cli_die("no_text", "the message is empty");
    channel ch;
    resolve_channel(c, a->pos[1], &ch);
    json_t *r = cli_api(c, "chat.postMessage",
                        json_pack("{s:s, s:s}", "channel", ch.id, "text", text));
    const char *ts = json_string_value(json_object_get(r, "ts"));
    printf("%s\n", ts ? ts : "");
    json_decref(r);
    free(text);
    channel_free(&ch);
    return 0;
}

static int cmd_history(cli *c, const args *a)
{
    need_args(a, 1, 1, "CHANNEL [-n N]");
    reject_options(a, true, false);
    long want = HISTORY_DEFAULT;
    if (a->count) {
        char *end = NULL;
        errno = 0;
        want = strtol(a->count, &end, 10);
        if (errno || end == a->count || *end || want < 1 || want > 1000000)
            usage_error("-n wants a number from 1 to 1000000");
    }
    cli_need_token(c);
    channel ch;
    resolve_channel(c, a->pos[1], &ch);
    json_t *got = json_array(); /* newest first, as the server sends them */
    char *cursor = NULL;
    do {
        long left = want - (long)json_array_size(got);
        json_t *req = json_pack("{s:s, s:i}", "channel", ch.id, "limit",
                                (int)(left > HISTORY_PAGE_MAX ? HISTORY_PAGE_MAX : left));
        if (cursor)
            json_object_set_new(req, "cursor", json_string(cursor));
        free(cursor);
        cursor = NULL;
        json_t *r = cli_api(c, "conversations.history", req);
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(r, "messages"), i, m)
        {
            if ((long)json_array_size(got) < want)
                json_array_append(got, m);
        }
        const char *next =
            json_string_value(json_object_get(json_object_get(r, "response_metadata"),
                                              "next_cursor"));
        if ((long)json_array_size(got) < want && next && *next &&
            json_array_size(json_object_get(r, "messages")) > 0)
            cursor = cli_xstrdup(next);
        json_decref(r);
    } while (cursor);
    for (size_t i = json_array_size(got); i-- > 0;)
        print_message(c, json_array_get(got, i), NULL);
    json_decref(got);
    channel_free(&ch);
    return 0;
}

/* ------------------------------------------------------------- tail --- */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
    stop_signal = sig;
}

static void sleep_unless_stopped(int seconds)
{
    for (int i = 0; i < seconds * 10 && !stop_signal; i++) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define SEEN 256

typedef struct follow {
    cli *c;
    const channel *ch;
    char epoch[64];
    unsigned long long seq;     /* last event seen; resume from here */
    bool greeted;               /* the first hello arrived */
    int64_t newest_us;          /* newest message shown (or when we started) */
    int64_t seen[SEEN];         /* recently shown ts, against showing one twice */
    size_t nseen;
} follow;

/* A message ts, "SSSSSSSSSS.UUUUUU" (a shorter fraction counts as written:
 * "1.5" is 1.500000), in microseconds; false for anything else. */
static bool ts_us(const char *ts, int64_t *us)
{
    size_t secs = strspn(ts, "0123456789");
    if (secs == 0 || secs > 11)
        return false;
    const char *frac = ts + secs;
    size_t digits = 0;
    if (*frac == '.')
        digits = strspn(++frac, "0123456789");
    if (digits > 6 || frac[digits] != '\0')
        return false;
    int64_t v = strtoll(ts, NULL, 10);
    for (size_t i = 0; i < 6; i++)
        v = v * 10 + (i < digits ? frac[i] - '0' : 0);
    *us = v;
    return true;
}

/* Prints a message of the channel unless it was shown already. */
static void show_once(follow *f, json_t *m, const char *suffix)
{
    int64_t us = 0;
    const char *ts = json_string_value(json_object_get(m, "ts"));
    if (ts && ts_us(ts, &us) && suffix == NULL) {
        for (size_t i = 0; i < f->nseen && i < SEEN; i++)
            if (f->seen[i] == us)
                return;
        f->seen[f->nseen++ % SEEN] = us;
        if (us > f->newest_us)
            f->newest_us = us;
    }
    print_message(f->c, m, suffix);
}

/* After a resync (the server could not replay what we missed, e.g. it
 * restarted), what was posted since the newest message shown comes from the
 * history instead. */
static void catch_up(follow *f)
{
    char oldest[32];
    snprintf(oldest, sizeof oldest, "%010lld.%06lld", (long long)(f->newest_us / 1000000),
             (long long)(f->newest_us % 1000000));
    json_t *r = cli_api_try(f->c, "conversations.history",
                            json_pack("{s:s, s:s, s:i}", "channel", f->ch->id, "oldest", oldest,
                                      "limit", HISTORY_PAGE_MAX));
    json_t *msgs = json_object_get(r, "messages");
    if (!json_is_true(json_object_get(r, "ok"))) {
        cli_note("some messages may have been missed while disconnected");
    } else {
        if (json_is_true(json_object_get(r, "has_more")))
            cli_note("more was missed than is shown; `chat history` has the rest");
        for (size_t i = json_array_size(msgs); i-- > 0;)
            show_once(f, json_array_get(msgs, i), NULL);
    }
    json_decref(r);
}

/* Handles one frame; an error frame (the server refused us) ends the process. */
static void on_frame(follow *f, json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *seq = json_object_get(ev, "seq");
    if (type == NULL)
        return; /* replies to our pings */
    if (strcmp(type, "hello") == 0) {
        const char *epoch = json_string_value(json_object_get(ev, "epoch"));
        if (!f->greeted || (epoch && strcmp(epoch, f->epoch) != 0))
            f->seq = json_is_integer(seq) ? (unsigned long long)json_integer_value(seq) : 0;
        snprintf(f->epoch, sizeof f->epoch, "%s", epoch ? epoch : "");
        if (!f->greeted) {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            f->newest_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
            cli_note("following #%s; Ctrl-C stops", f->ch->name);
        }
        else
            cli_note("reconnected");
        f->greeted = true;
        return;
    }
    if (json_is_integer(seq))
        f->seq = (unsigned long long)json_integer_value(seq);
    if (strcmp(type, "error") == 0) {
        json_t *err = json_object_get(ev, "error");
        const char *code = json_string_value(err);
        if (code == NULL)
            code = json_string_value(json_object_get(err, "code"));
        cli_die(code ? code : "stream_error", "the event stream was refused%s",
                code && (strstr(code, "auth") || strstr(code, "token"))
                    ? " (run `chat login EMAIL`)"
                    : "");
    }
    if (strcmp(type, "resync") == 0) {
        catch_up(f);
        return;
    }
    const char *chan = json_string_value(json_object_get(ev, "channel"));
    if (strcmp(type, "message") != 0 || chan == NULL || strcmp(chan, f->ch->id) != 0)
        return;
    const char *subtype = json_string_value(json_object_get(ev, "subtype"));
    if (subtype && strcmp(subtype, "message_deleted") == 0)
        return;
    if (subtype && strcmp(subtype, "message_changed") == 0) {
        json_t *m = json_object_get(ev, "message");
        if (m)
            show_once(f, m, " (edited)");
        return;
    }
    show_once(f, ev, NULL);
}

static int cmd_tail(cli *c, const args *a)
{
    need_args(a, 1, 1, "CHANNEL");
    reject_options(a, false, false);
    cli_need_token(c);
    channel ch;
    resolve_channel(c, a->pos[1], &ch);
    if (!ch.is_member)
        cli_note("you are not a member of #%s: its messages will not reach you", ch.name);
    json_t *r = cli_api(c, "rtm.connect", NULL);
    const char *u = json_string_value(json_object_get(r, "url"));
    if (u == NULL || *u == '\0')
        cli_die("invalid_response", "rtm.connect gave no url");
    char *url = cli_xstrdup(u);
    json_decref(r);

    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    follow f = {.c = c, .ch = &ch};
    int backoff = 1;
    while (!stop_signal) {
        char *dial = f.greeted ? cli_xprintf("%s%sepoch=%s&since=%llu", url,
                                             strchr(url, '?') ? "&" : "?", f.epoch, f.seq)
                               : cli_xstrdup(url);
        cli_ws *w = NULL;
        int e = cli_ws_open(dial, &w);
        free(dial);
        if (e != 0) {
            if (!f.greeted)
                cli_die("connection_failed", "event stream %.*s: %s",
                        (int)strcspn(url, "?"), url, nng_strerror(e));
            cli_note("reconnecting in %d s: %s", backoff, nng_strerror(e));
            sleep_unless_stopped(backoff);
            backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
            continue;
        }
        int64_t last_frame = mono_ms(), last_ping = last_frame;
        long ping_id = 0;
        size_t dropped = 0;
        while (!stop_signal) {
            json_t *ev = NULL;
            e = cli_ws_recv(w, 250, &ev);
            int64_t now = mono_ms();
            if (cli_ws_dropped(w) > dropped) {
                dropped = cli_ws_dropped(w);
                cli_note("skipped an event that was not whole JSON (too large?)");
            }
            if (e == 0) {
                last_frame = now;
                backoff = 1;
                on_frame(&f, ev);
                json_decref(ev);
                fflush(stdout);
                if (ferror(stdout))
                    stop_signal = SIGPIPE; /* nobody reads us any more */
                continue;
            }
            if (e != NNG_ETIMEDOUT)
                break;
            if (now - last_frame > SILENCE_MAX_MS) {
                e = NNG_ETIMEDOUT;
                break;
            }
            if (now - last_ping >= PING_EVERY_MS) {
                char ping[64];
                snprintf(ping, sizeof ping, "{\"type\":\"ping\",\"id\":%ld}", ++ping_id);
                last_ping = now;
                if ((e = cli_ws_send(w, ping)) != 0)
                    break;
            }
        }
        cli_ws_close(w);
        if (stop_signal)
            break;
        cli_note("connection lost (%s); reconnecting in %d s", nng_strerror(e), backoff);
        sleep_unless_stopped(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
    }
    free(url);
    channel_free(&ch);
    return 0;
}

/* ----------------------------------------------------------- upload --- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        cli_die("file_not_found", "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        cli_die("invalid_file", "%s is not a regular file", path);
    if ((size_t)st.st_size > UPLOAD_MAX)
        cli_die("file_too_large", "%s is larger than %zu bytes", path, UPLOAD_MAX);
    char *data = cli_xmalloc((size_t)st.st_size + 1);
    size_t n = fread(data, 1, (size_t)st.st_size, f);
    if (ferror(f))
        cli_die("read_failed", "%s: %s", path, strerror(errno));
    fclose(f);
    *len = n;
    return data;
}

static int cmd_upload(cli *c, const args *a)
{
    need_args(a, 2, 2, "CHANNEL FILE [-m COMMENT]");
    reject_options(a, false, true);
    cli_need_token(c);
    const char *path = a->pos[2];
    size_t len = 0;
    char *data = read_file(path, &len);
    if (len == 0)
        cli_die("invalid_file", "%s is empty", path);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    channel ch;
    resolve_channel(c, a->pos[1], &ch);

    /* Slack's external upload: ask for a URL, send the bytes there, then
     * complete it into the channel. */
    json_t *r = cli_api(c, "files.getUploadURLExternal",
                        json_pack("{s:s, s:I}", "filename", base, "length", (json_int_t)len));
    const char *upload_url = json_string_value(json_object_get(r, "upload_url"));
    const char *file_id = json_string_value(json_object_get(r, "file_id"));
    if (upload_url == NULL || file_id == NULL)
        cli_die("invalid_response", "files.getUploadURLExternal gave no upload_url or file_id");
    char *body = NULL;
    int status = cli_http_post_bytes(c, upload_url, "application/octet-stream", data, len, &body);
    if (status < 200 || status > 299) {
        /* The upload URL may answer in the Web API's shape or in plain text. */
        json_t *j = json_loads(body, 0, NULL);
        if (j && json_object_get(j, "error"))
            cli_die_reply("upload", j);
        size_t n = body[0] == '<' ? 0 : strcspn(body, "\r\n"); /* no HTML pages */
        cli_die("upload_failed", "the upload URL answered HTTP %d%s%.*s", status, n ? ": " : "",
                (int)(n > 200 ? 200 : n), body);
    }
    free(body);
    free(data);
    json_t *req = json_pack("{s:[{s:s, s:s}], s:s}", "files", "id", file_id, "title", base,
                            "channel_id", ch.id);
    if (a->comment)
        json_object_set_new(req, "initial_comment", json_string(a->comment));
    json_t *done = cli_api(c, "files.completeUploadExternal", req);
    printf("uploaded %s (%s, %zu bytes) to #%s\n", base, file_id, len, ch.name);
    json_decref(done);
    json_decref(r);
    channel_free(&ch);
    return 0;
}

static int cmd_app(cli *c, const args *a)
{
    need_args(a, 2, 2, "create MANIFEST");
    reject_options(a, false, false);
    if (strcmp(a->pos[1], "create") != 0)
        usage_error("unknown app command \"%s\"", a->pos[1]);
    cli_need_token(c);
    json_error_t err;
    json_t *manifest = strcmp(a->pos[2], "-") == 0 ? json_loadf(stdin, 0, &err)
                                                   : json_load_file(a->pos[2], 0, &err);
    if (manifest == NULL)
        cli_die("invalid_manifest", "%s: %s (line %d)", a->pos[2], err.text, err.line);
    json_t *r = cli_api(c, "apps.manifest.create", json_pack("{s:o}", "manifest", manifest));
    static const char *const keys[] = {"app_id", "bot_id", "bot_user_id", "bot_token",
                                       "app_token"};
    for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
        const char *v = json_string_value(json_object_get(r, keys[i]));
        printf("%s=%s\n", keys[i], v ? v : "");
    }
    const char *secret = json_string_value(
        json_object_get(json_object_get(r, "credentials"), "signing_secret"));
    printf("signing_secret=%s\n", secret ? secret : "");
    json_decref(r);
    return 0;
}

/* ------------------------------------------------------------- main --- */

static const struct command {
    const char *name;
    int (*run)(cli *c, const args *a);
} commands[] = {
    {"signup", cmd_signup}, {"login", cmd_login},     {"channels", cmd_channels},
    {"send", cmd_send},     {"history", cmd_history}, {"tail", cmd_tail},
    {"upload", cmd_upload}, {"app", cmd_app},
};

int main(int argc, char **argv)
{
    /* Lines go out as they are made (tail into a pipe or file). */
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    args a;
    parse_args(argc, argv, &a);
    if (a.help || (a.npos > 0 && strcmp(a.pos[0], "help") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (a.npos == 0) {
        fputs(usage_text, stderr);
        return CLI_EXIT_USAGE;
    }
    const struct command *cmd = NULL;
    for (size_t i = 0; i < ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, a.pos[0]) == 0)
            cmd = &commands[i];
    if (cmd == NULL)
        usage_error("unknown command \"%s\"", a.pos[0]);
    cli c = {0};
    c.server = server_url(a.server);
    int rv = cmd->run(&c, &a);
    free(c.server);
    free(c.token);
    json_decref(c.names);
    json_decref(c.files);
    if (fflush(stdout) != 0 || ferror(stdout))
        return CLI_EXIT_ERROR;
    return rv;
}
