"""Slack's own Python SDK (slack_sdk, from PyPI) against chatd, unchanged.

The SDK is used exactly as a Slack bot would use it, with only base_url
pointed at chatd's Web API: no monkeypatching, no custom transport. chatd's
path comes from the CHATD environment variable (ctest sets it); this module
starts its own server on a free loopback port with a temporary data
directory, signs the bot user up with a plain urllib call to auth.signup, and
stops the server at the end (it must exit 0 on SIGTERM).

Run: CHATD=/path/to/chatd ~/.cache/libchat/venv/bin/python -m pytest -q \
        tests/sdk/python/test_slack_sdk.py
"""
import shutil
import urllib.error
import urllib.request
import time

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from chatd import HTTP_TIMEOUT, Chatd, raw_post, unique

SEARCH_TIMEOUT = 15.0
LONG_HISTORY = 250


@pytest.fixture(scope="module")
def server():
    srv = Chatd().start()
    yield srv
    alive, code = srv.stop()
    tail = srv.log_tail()
    shutil.rmtree(srv.data_dir, ignore_errors=True)
    assert alive, f"chatd died during the tests:\n{tail}"
    assert code == 0, f"chatd exited with {code} on SIGTERM:\n{tail}"


@pytest.fixture(scope="module")
def bot(server):
    """The bot's signup reply (token, user_id, team_id, user)."""
    return server.signup("sdkbot", "SDK Bot")


@pytest.fixture(scope="module")
def client(server, bot):
    # Exactly how a Slack app builds its client; only base_url differs.
    return WebClient(token=bot["token"], base_url=server.base + "/api/")


def new_channel(client, prefix):
    name = unique(prefix)
    r = client.conversations_create(name=name)
    assert r["ok"] is True
    ch = r["channel"]
    assert ch["name"] == name
    assert ch["id"].startswith(("C", "G")), ch
    return ch["id"]


# ------------------------------------------------------------------ tests ---


def test_auth_test(client, bot):
    r = client.auth_test()
    assert r.status_code == 200
    assert r["ok"] is True
    assert r["user_id"] == bot["user_id"]
    assert r["team_id"] == bot["team_id"]
    assert r["user"] == bot["user"]["name"]


def test_bot_session(client, bot):
    user = bot["user_id"]
    name = unique("sdk-session-")
    created = client.conversations_create(name=name)
    channel = created["channel"]["id"]
    assert created["channel"]["name"] == name
    assert created["channel"]["is_member"] is True

    # post
    parent_text = f"hello from slack_sdk {unique('p')}"
    posted = client.chat_postMessage(channel=channel, text=parent_text)
    assert posted["ok"] is True
    assert posted["channel"] == channel
    parent_ts = posted["ts"]
    assert posted["message"]["text"] == parent_text
    assert posted["message"]["user"] == user
    assert posted["message"]["ts"] == parent_ts

    # thread reply
    reply_text = "a reply in the thread"
    reply = client.chat_postMessage(channel=channel, text=reply_text, thread_ts=parent_ts)
    reply_ts = reply["ts"]
    assert reply["message"]["thread_ts"] == parent_ts
    assert reply["message"]["text"] == reply_text
    assert float(reply_ts) > float(parent_ts)

    # a later top-level message, to check history order
    later_text = "a later top-level message"
    later_ts = client.chat_postMessage(channel=channel, text=later_text)["ts"]
    assert float(later_ts) > float(reply_ts)

    # update
    edited_text = parent_text + " (edited)"
    upd = client.chat_update(channel=channel, ts=parent_ts, text=edited_text)
    assert upd["ok"] is True
    assert upd["channel"] == channel
    assert upd["ts"] == parent_ts
    assert upd["text"] == edited_text

    # react
    assert client.reactions_add(channel=channel, timestamp=parent_ts, name="thumbsup")["ok"]
    got = client.reactions_get(channel=channel, timestamp=parent_ts)
    assert got["type"] == "message"
    assert got["message"]["reactions"] == [{"name": "thumbsup", "users": [user], "count": 1}]

    # history: newest first, top-level messages only, the parent edited,
    # threaded and reacted to
    hist = client.conversations_history(channel=channel)
    assert hist["ok"] is True
    assert hist["has_more"] is False
    msgs = [m for m in hist["messages"] if m.get("subtype") is None]
    assert [m["ts"] for m in msgs] == [later_ts, parent_ts]
    assert [m["text"] for m in msgs] == [later_text, edited_text]
    parent = msgs[1]
    assert parent["type"] == "message"
    assert parent["user"] == user
    assert parent["thread_ts"] == parent_ts
    assert parent["reply_count"] == 1
    assert parent["reply_users"] == [user]
    assert parent["latest_reply"] == reply_ts
    assert parent["edited"]["user"] == user
    assert parent["reactions"] == [{"name": "thumbsup", "users": [user], "count": 1}]
    assert "reactions" not in msgs[0] or msgs[0]["reactions"] == []

    # replies: the parent first, then the reply, oldest first
    rep = client.conversations_replies(channel=channel, ts=parent_ts)
    assert rep["ok"] is True
    assert [m["ts"] for m in rep["messages"]] == [parent_ts, reply_ts]
    assert [m["text"] for m in rep["messages"]] == [edited_text, reply_text]
    assert all(m["thread_ts"] == parent_ts for m in rep["messages"])
    assert rep["messages"][0]["reply_count"] == 1

    # search (may be indexed asynchronously: poll for a while)
    word = unique("needle")
    search_text = f"the {word} in the haystack"
    search_ts = client.chat_postMessage(channel=channel, text=search_text)["ts"]
    deadline = time.monotonic() + SEARCH_TIMEOUT
    while True:
        found = client.search_messages(query=word)
        assert found["ok"] is True
        matches = found["messages"]["matches"]
        if matches or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(matches) == 1, found.data
    assert found["messages"]["total"] == 1
    m = matches[0]
    assert m["ts"] == search_ts
    assert m["text"] == search_text
    assert m["user"] == user
    assert m["channel"]["id"] == channel
    assert m["channel"]["name"] == name

    # remove the reaction again
    assert client.reactions_remove(channel=channel, timestamp=parent_ts, name="thumbsup")["ok"]
    got = client.reactions_get(channel=channel, timestamp=parent_ts)
    assert not got["message"].get("reactions")


def test_long_history_pagination(client):
    channel = new_channel(client, "sdk-long-")
    posted = []
    for i in range(LONG_HISTORY):
        text = f"message {i:03d}"
        r = client.chat_postMessage(channel=channel, text=text)
        posted.append((r["ts"], text))

    # The SDK's own cursor iteration: each page is a SlackResponse.
    seen = []
    pages = 0
    for page in client.conversations_history(channel=channel, limit=100):
        pages += 1
        assert page["ok"] is True
        assert len(page["messages"]) <= 100
        seen.extend((m["ts"], m["text"]) for m in page["messages"]
                    if m.get("subtype") is None)
        assert pages <= 10, "the cursor iteration does not end"
    assert pages == 3
    # every message exactly once, newest first
    assert len(seen) == len(set(ts for ts, _ in seen))
    assert seen == list(reversed(posted))


def test_files_upload_v2_and_download(client, bot, server):
    channel = new_channel(client, "sdk-files-")
    content = b"hello from slack_sdk files_upload_v2\n\x00\x01\xfe\xffbinary tail"
    up = client.files_upload_v2(channel=channel, content=content, filename="hello.txt",
                                title="Hello file", initial_comment="here is a file")
    assert up["ok"] is True
    # files.completeUploadExternal answers files: [{id, title, ...}]; the SDK
    # copies a single one to "file"
    assert len(up["files"]) == 1
    f = up["file"]
    assert f["id"].startswith("F"), f
    assert f["title"] == "Hello file"
    file_id = f["id"]

    info = client.files_info(file=file_id)
    assert info["ok"] is True
    fi = info["file"]
    assert fi["id"] == file_id
    assert fi["name"] == "hello.txt"
    assert fi["title"] == "Hello file"
    assert fi["size"] == len(content)
    assert fi["user"] == bot["user_id"]
    assert channel in fi["channels"]
    url = fi["url_private"]
    assert url

    # download url_private with the token, as Slack's docs say to
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + bot["token"]})
    with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
        assert r.status == 200
        assert r.read() == content

    # without the token the bytes must not come back
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as r:
            assert r.read() != content
    except urllib.error.HTTPError as e:
        assert e.code in (401, 403, 404)

    # the upload was shared into the channel as a message carrying the file
    hist = client.conversations_history(channel=channel)
    carrying = [m for m in hist["messages"]
                if any(x.get("id") == file_id for x in m.get("files", []))]
    assert len(carrying) == 1, hist.data
    assert carrying[0]["text"] == "here is a file"

    listed = client.files_list(channel=channel)
    assert [x["id"] for x in listed["files"]] == [file_id]

    assert client.files_delete(file=file_id)["ok"] is True
    with pytest.raises(SlackApiError) as e:
        client.files_info(file=file_id)
    # Slack documents both for files.info: file_deleted while it remembers the file
    assert e.value.response["error"] in ("file_deleted", "file_not_found")


def test_channel_not_found(client):
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel="C0NOSUCHCHANNEL", text="nobody hears this")
    # Slack answers API errors with HTTP 200 and ok: false
    assert e.value.response.status_code == 200
    assert e.value.response["ok"] is False
    assert e.value.response["error"] == "channel_not_found"

    with pytest.raises(SlackApiError) as e:
        client.conversations_history(channel="C0NOSUCHCHANNEL")
    assert e.value.response["error"] == "channel_not_found"
