#!/usr/bin/env bash
# test_cli.sh CHATD CHAT - the `chat` client against a real chatd: signup,
# login, channels, send, history, tail (live, in the background), upload (when
# the server has files.getUploadURLExternal), and the error conventions.
set -u

CHATD=${1:?usage: test_cli.sh CHATD CHAT}
CHAT=${2:?usage: test_cli.sh CHATD CHAT}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chat-cli-test.XXXXXX")
chatd_pid=
tail_pid=
failures=0

cleanup() {
    if [ -n "$tail_pid" ]; then kill "$tail_pid" 2>/dev/null; wait "$tail_pid" 2>/dev/null; fi
    if [ -n "$chatd_pid" ]; then kill "$chatd_pid" 2>/dev/null; wait "$chatd_pid" 2>/dev/null; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
show() { echo "--- $1"; sed 's/^/    /' "$1"; }

# Runs chat, keeping stdout, stderr and the status for the checks.
run() {
    "$CHAT" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
}

# expect_rc WANT WHAT: the last run's status.
expect_rc() {
    if [ "$rc" -eq "$1" ]; then
        pass "$2 (exit $rc)"
    else
        fail "$2: exit $rc, wanted $1"
        show "$tmp/out"
        show "$tmp/err"
    fi
}

# wait_for FILE PATTERN SECONDS
wait_for() {
    local i
    for ((i = 0; i < $3 * 10; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ---- a chatd of our own on a free port ----------------------------------
for attempt in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    rm -rf "$tmp/data"
    "$CHATD" --listen "http://127.0.0.1:$port" --data "$tmp/data" >"$tmp/chatd.log" 2>&1 &
    chatd_pid=$!
    for ((i = 0; i < 100; i++)); do
        grep -q "listening" "$tmp/chatd.log" && break
        kill -0 "$chatd_pid" 2>/dev/null || break
        sleep 0.1
    done
    if grep -q "listening" "$tmp/chatd.log"; then
        break
    fi
    kill "$chatd_pid" 2>/dev/null
    wait "$chatd_pid" 2>/dev/null
    chatd_pid=
done
if [ -z "$chatd_pid" ]; then
    echo "FAIL: chatd did not start"
    cat "$tmp/chatd.log"
    exit 1
fi
echo "chatd on port $port (pid $chatd_pid)"

export CHAT_SERVER="http://127.0.0.1:$port"
export XDG_CONFIG_HOME="$tmp/config"
export CHAT_PASSWORD="correct horse battery staple"
unset CHAT_TOKEN

# ---- usage and errors ---------------------------------------------------
run --help
expect_rc 0 "--help"
grep -q "usage: chat" "$tmp/out" || fail "--help prints the usage"
run frobnicate
expect_rc 2 "an unknown command is a usage error"
run history
expect_rc 2 "history without a channel is a usage error"
run channels
expect_rc 1 "channels before login"
grep -q "^chat: not_authed: " "$tmp/err" || { fail "not logged in says not_authed"; show "$tmp/err"; }

# ---- accounts -----------------------------------------------------------
run signup bob@example.com "Bob Builder"
expect_rc 0 "signup bob"
run send '#general' "bob was here $$"
expect_rc 0 "send as bob"
run signup alice@example.com "Alice Liddell"
expect_rc 0 "signup alice"
token="$XDG_CONFIG_HOME/libchat/token"
if [ -s "$token" ] && [ "$(stat -c %a "$token")" = 600 ]; then
    pass "the token is saved with mode 0600"
else
    fail "token file $token missing or not 0600"
fi
CHAT_PASSWORD=wrong-password run login alice@example.com
expect_rc 1 "login with a wrong password"
grep -q "^chat: invalid_auth: " "$tmp/err" || { fail "a wrong password says invalid_auth"; show "$tmp/err"; }
run login alice@example.com
expect_rc 0 "login alice"
CHAT_TOKEN=not-a-token run channels
expect_rc 1 "CHAT_TOKEN takes precedence (a bad one fails)"
if command -v setsid >/dev/null; then
    # No terminal to prompt on (setsid drops it) and no CHAT_PASSWORD.
    env -u CHAT_PASSWORD setsid -w "$CHAT" login alice@example.com >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    expect_rc 1 "login without CHAT_PASSWORD or a terminal"
    grep -q "^chat: password_required: " "$tmp/err" || { fail "says password_required"; show "$tmp/err"; }
fi
CHAT_SERVER=http://127.0.0.1:1 run --server "http://127.0.0.1:$port/" channels
expect_rc 0 "--server wins over CHAT_SERVER"
CHAT_SERVER=http://127.0.0.1:1 run channels
expect_rc 1 "an unreachable server"
grep -q "^chat: connection_failed: " "$tmp/err" || { fail "says connection_failed"; show "$tmp/err"; }

# ---- channels, send, history --------------------------------------------
run channels
expect_rc 0 "channels"
grep -q "^#general " "$tmp/out" || { fail "channels lists #general"; show "$tmp/out"; }
general_id=$(awk '$1 == "#general" {print $2}' "$tmp/out")

text="hello from the cli $$ <&> ünïcödé"
run send '#general' "$text"
expect_rc 0 "send to #general"
grep -Eq '^[0-9]+\.[0-9]+$' "$tmp/out" || { fail "send prints the ts"; show "$tmp/out"; }
printf 'piped line one\npiped line two\n' | "$CHAT" send "$general_id" >"$tmp/out" 2>"$tmp/err"
rc=$?
expect_rc 0 "send by channel id, text from standard input"

run history '#general' -n 10
expect_rc 0 "history"
if grep -Eq "^[0-9]{2}:[0-9]{2} alice: $text\$" "$tmp/out" &&
   grep -Eq "^[0-9]{2}:[0-9]{2} bob: bob was here $$\$" "$tmp/out"; then
    pass "history shows the messages as HH:MM name: text"
else
    fail "history lacks the sent messages"
    show "$tmp/out"
fi
first=$(grep -n "bob was here" "$tmp/out" | cut -d: -f1)
last=$(grep -n "piped line one" "$tmp/out" | cut -d: -f1)
if [ -n "$first" ] && [ -n "$last" ] && [ "$first" -lt "$last" ]; then
    pass "history is oldest first"
else
    fail "history order"
    show "$tmp/out"
fi
run history '#general' -n 1
[ "$(grep -c '^[0-9][0-9]:[0-9][0-9] ' "$tmp/out")" -eq 1 ] && pass "history -n 1 shows one message" ||
    { fail "history -n 1"; show "$tmp/out"; }
run history '#no-such-channel'
expect_rc 1 "history of an unknown channel"
grep -q "^chat: channel_not_found: " "$tmp/err" || { fail "says channel_not_found"; show "$tmp/err"; }

# ---- tail -----------------------------------------------------------------
"$CHAT" tail '#general' >"$tmp/tail.out" 2>"$tmp/tail.err" </dev/null &
tail_pid=$!
if wait_for "$tmp/tail.err" "following #general" 10; then
    pass "tail connected"
else
    fail "tail did not connect"
    show "$tmp/tail.err"
fi
live="live message $$ $RANDOM"
run send general "$live"
expect_rc 0 "send while tailing"
if wait_for "$tmp/tail.out" "alice: $live" 10; then
    pass "tail printed the new message"
else
    fail "tail did not print the new message"
    show "$tmp/tail.out"
    show "$tmp/tail.err"
fi
kill -INT "$tail_pid"
wait "$tail_pid"
rc=$?
tail_pid=
[ "$rc" -eq 0 ] && pass "tail exits 0 on Ctrl-C" || fail "tail exit status $rc on SIGINT"

# ---- upload ---------------------------------------------------------------
printf 'some file contents %s\n' "$$" >"$tmp/notes.txt"
run upload '#general' "$tmp/notes.txt" -m "see the notes"
if [ "$rc" -ne 0 ] && grep -q "^chat: unknown_method: " "$tmp/err"; then
    echo "SKIP: upload: this server has no files.getUploadURLExternal yet"
else
    expect_rc 0 "upload"
    run history '#general' -n 3
    if grep -q "notes.txt" "$tmp/out"; then
        pass "history shows the uploaded file"
    else
        fail "history does not show the uploaded file"
        show "$tmp/out"
    fi
fi
run upload '#general' "$tmp/no-such-file"
expect_rc 1 "upload of a missing file"

# ---- app create ------------------------------------------------------
cat >"$tmp/manifest.json" <<'JSON'
{"display_information": {"name": "CLI Bot"},
 "oauth_config": {"scopes": {"bot": ["chat:write", "channels:join", "channels:read"]}}}
JSON
run app create "$tmp/manifest.json"
expect_rc 0 "app create"
bot_token=$(sed -n 's/^bot_token=//p' "$tmp/out")
case "$bot_token" in
xoxb-*) pass "app create prints a bot token" ;;
*) fail "app create prints no bot token"; show "$tmp/out" ;;
esac
grep -Eq '^signing_secret=[0-9a-f]{64}$' "$tmp/out" || { fail "prints the signing secret"; show "$tmp/out"; }
grep -Eq '^app_token=xapp-' "$tmp/out" || { fail "prints the app-level token"; show "$tmp/out"; }
# the bot token works with the cli as any token does
CHAT_TOKEN=$bot_token run channels
expect_rc 0 "the bot lists channels with its token"
echo '{"display_information": {}}' >"$tmp/bad.json"
run app create "$tmp/bad.json"
expect_rc 1 "app create with a manifest without a name"
grep -q "^chat: invalid_manifest: " "$tmp/err" || { fail "says invalid_manifest"; show "$tmp/err"; }
run app create "$tmp/no-such-manifest.json"
expect_rc 1 "app create with a missing file"
run app remove x
expect_rc 2 "an unknown app command is a usage error"

if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    echo "--- chatd log"
    cat "$tmp/chatd.log"
    exit 1
fi
echo "all checks passed"
