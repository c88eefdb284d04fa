"""Slack's Bolt for Python (slack_bolt, from PyPI), unchanged, as an app over
Socket Mode: it opens its connection with apps.connections.open, hears a
message, an app_mention, a slash command that opens a modal, the modal's
submission and a button click, and answers through the Web API. Only the
WebClient's base_url is pointed at chatd.

Run: CHATD=/path/to/chatd ~/.cache/libchat/venv/bin/python -m pytest -q \
        tests/sdk/python/test_slack_bolt.py
"""
import json
import shutil
import time

import websocket

import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from chatd import Chatd, raw_post, unique

WAIT = 20.0


@pytest.fixture(scope="module")
def server():
    srv = Chatd().start()
    yield srv
    alive, code = srv.stop()
    tail = srv.log_tail()
    shutil.rmtree(srv.data_dir, ignore_errors=True)
    assert alive, f"chatd died during the tests:\n{tail}"
    assert code == 0, f"chatd exited with {code} on SIGTERM:\n{tail}"


def call(server, token, method, **args):
    status, j = raw_post(server.base + "/api/" + method, {"token": token, **args})
    assert status == 200 and j.get("ok") is True, (method, status, j)
    return j


def wait_for(what, fn):
    deadline = time.monotonic() + WAIT
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_bolt_app_over_socket_mode(server):
    alice = server.signup("boltalice", "Alice")
    status, made = raw_post(server.base + "/api/apps.manifest.create", {
        "token": alice["token"],
        "manifest": '{"display_information":{"name":"Py Bolt"},'
                    '"features":{"bot_user":{"display_name":"pybolt"},'
                    '"slash_commands":[{"command":"/deploy"},{"command":"/ask"}]},'
                    '"oauth_config":{"scopes":{"bot":["chat:write","channels:join",'
                    '"channels:history","app_mentions:read","commands"]}},'
                    '"settings":{"socket_mode_enabled":true,"event_subscriptions":'
                    '{"bot_events":["message.channels","app_mention"]}}}'})
    assert status == 200 and made["ok"], made
    client = WebClient(token=made["bot_token"], base_url=server.base + "/api/")
    # Built as a Bolt app is built; only the client's base_url differs.
    app = App(client=client)

    @app.message("hello bolt")
    def hello(message, say):
        say(f"hi <@{message['user']}>")

    @app.event("app_mention")
    def mention(event, say):
        say(text="on it", thread_ts=event["ts"])

    @app.command("/deploy")
    def deploy(ack, respond, command):
        ack(f"deploying {command['text']}")
        respond(response_type="in_channel", text=f"deployed {command['text']}")

    @app.action("approve")
    def approve(ack, respond, body, action):
        ack()
        respond(replace_original=True, text=f"approved {action['value']} by <@{body['user']['id']}>")

    @app.command("/ask")
    def ask(ack, body, client):
        ack()
        client.views_open(trigger_id=body["trigger_id"], view={
            "type": "modal", "callback_id": "ask_view", "private_metadata": body["channel_id"],
            "title": {"type": "plain_text", "text": "Ask"},
            "submit": {"type": "plain_text", "text": "Send"},
            "blocks": [{"type": "input", "block_id": "q",
                        "label": {"type": "plain_text", "text": "Question"},
                        "element": {"type": "plain_text_input", "action_id": "text"}}]})

    @app.view("ask_view")
    def ask_submitted(ack, view, client):
        q = view["state"]["values"]["q"]["text"]["value"]
        if q == "bad":
            ack(response_action="errors", errors={"q": "too vague"})
            return
        ack()
        client.chat_postMessage(channel=view["private_metadata"], text=f"asked: {q}")

    channel = call(server, alice["token"], "conversations.create",
                   name=unique("pybolt"))["channel"]["id"]
    client.conversations_join(channel=channel)
    handler = SocketModeHandler(app, made["app_token"])
    handler.connect()
    try:
        call(server, alice["token"], "chat.postMessage", channel=channel, text="hello bolt")
        reply = wait_for("the app's reply", lambda: next(
            (m for m in call(server, alice["token"], "conversations.history",
                             channel=channel)["messages"]
             if m["text"] == f"hi <@{alice['user_id']}>"), None))
        assert reply["bot_id"] == made["bot_id"] and reply["user"] == made["bot_user_id"]

        asked = call(server, alice["token"], "chat.postMessage", channel=channel,
                     text=f"<@{made['bot_user_id']}> deploy")
        threaded = wait_for("the reply in the thread", lambda: next(
            (m for m in call(server, alice["token"], "conversations.replies", channel=channel,
                             ts=asked["ts"])["messages"] if m["text"] == "on it"), None))
        assert threaded["thread_ts"] == asked["ts"]
        # each heard once: what Bolt acknowledged is not sent again (chatd
        # sends an envelope again 5 s after it went unacknowledged)
        time.sleep(6)
        texts = [m["text"] for m in call(server, alice["token"], "conversations.history",
                                         channel=channel)["messages"]]
        assert texts.count(f"hi <@{alice['user_id']}>") == 1, texts

        # a slash command: Bolt acks with a reply for the person alone, then
        # answers the channel through the response_url
        rtm = websocket.create_connection(
            call(server, alice["token"], "rtm.connect")["url"], timeout=WAIT)
        try:
            assert json.loads(rtm.recv())["type"] == "hello"
            call(server, alice["token"], "chat.command", channel=channel, command="/deploy",
                 text="v2")
            while True:
                e = json.loads(rtm.recv())
                if e.get("type") == "message" and e.get("text") == "deploying v2":
                    break
            assert e["is_ephemeral"] is True and e["bot_id"] == made["bot_id"], e
        finally:
            rtm.close()
        wait_for("the answer in the channel", lambda: next(
            (m for m in call(server, alice["token"], "conversations.history",
                             channel=channel)["messages"]
             if m["text"] == "deployed v2" and m.get("bot_id") == made["bot_id"]), None))

        # a button on the bot's message: Bolt's action handler replaces it
        posted = client.chat_postMessage(channel=channel, text="Ship?", blocks=[
            {"type": "actions", "elements": [{"type": "button", "action_id": "approve",
                                              "value": "v2", "text": {"type": "plain_text",
                                                                      "text": "Approve"}}]}])
        call(server, alice["token"], "blocks.actions", channel=channel, ts=posted["ts"],
             action_id="approve")
        wait_for("the replaced message", lambda: next(
            (m for m in call(server, alice["token"], "conversations.history",
                             channel=channel)["messages"]
             if m["ts"] == posted["ts"] and
             m["text"] == f"approved v2 by <@{alice['user_id']}>"), None))

        # a slash command that opens a modal; its submission reaches
        # Bolt's view handler, whose ack shows errors, then closes it
        rtm = websocket.create_connection(
            call(server, alice["token"], "rtm.connect")["url"], timeout=WAIT)
        try:
            def next_view(kind):
                while True:
                    e = json.loads(rtm.recv())
                    if e.get("type") == kind:
                        return e
            assert json.loads(rtm.recv())["type"] == "hello"
            call(server, alice["token"], "chat.command", channel=channel, command="/ask",
                 text="")
            view = next_view("view_opened")["view"]
            assert view["callback_id"] == "ask_view" and view["app_id"] == made["app_id"], view
            values = lambda text: json.dumps({"q": {"text": {"type": "plain_text_input",
                                                             "value": text}}})
            call(server, alice["token"], "views.submit", view_id=view["id"], values=values("bad"))
            assert next_view("view_errors")["errors"] == {"q": "too vague"}
            call(server, alice["token"], "views.submit", view_id=view["id"], values=values("why"))
            assert next_view("view_closed")["view"]["id"] == view["id"]
        finally:
            rtm.close()
        wait_for("the submission's message", lambda: next(
            (m for m in call(server, alice["token"], "conversations.history",
                             channel=channel)["messages"]
             if m["text"] == "asked: why" and m.get("bot_id") == made["bot_id"]), None))
    finally:
        handler.close()
