"""Modals end to end (issue 14): a slash command's trigger_id opens a view
(views.open), the person's clients hear it (view_opened), the person
submits it (views.submit), the app hears a view_submission over Socket Mode
and its acknowledgement shows errors, updates, pushes or closes the view;
views.update with its hash, views.publish for App Home, views.close with
notify_on_close. Runs against chatd and the separate servers."""
import json

from conftest import unique
from test_socket_mode import envelope_of, links, make_app  # noqa: F401 (a fixture)

VIEW = {
    "type": "modal", "callback_id": "ask-view", "private_metadata": "meta-1",
    "title": {"type": "plain_text", "text": "Ask"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "What is it?"}},
        {"type": "input", "block_id": "q", "label": {"type": "plain_text", "text": "Question"},
         "element": {"type": "plain_text_input", "action_id": "text"}},
        {"type": "input", "block_id": "how", "optional": True,
         "label": {"type": "plain_text", "text": "Urgency"},
         "element": {"type": "static_select", "action_id": "pick", "options": [
             {"text": {"type": "plain_text", "text": "Low"}, "value": "low"},
             {"text": {"type": "plain_text", "text": "High"}, "value": "high"}]}},
    ],
}


def view_event(rtm, kind, view_id=None):
    return rtm.wait_for(lambda e: e.get("type") == kind and
                        (view_id is None or e.get("view", {}).get("id") == view_id),
                        what=kind)


def open_modal(server, alice, link, bot, channel, view=VIEW, command="/ask"):
    alice.ok("chat.command", channel=channel, command=command, text="")
    env = envelope_of(link, "slash_commands")
    link.ack(env)
    trigger = env["payload"]["trigger_id"]
    r = bot.ok("views.open", via="json", trigger_id=trigger, view=view)
    assert "view" in r, (r, server.log_tail())
    return trigger, r["view"]


def submission(link):
    env = envelope_of(link, "interactive")
    assert env["payload"]["type"] == "view_submission", env
    assert env["accepts_response_payload"] is True, env
    return env


def answer(link, env, payload=None):
    msg = {"envelope_id": env["envelope_id"]}
    if payload is not None:
        msg["payload"] = payload
    link.ws.send(json.dumps(msg))


def test_a_command_opens_a_modal_and_the_app_hears_its_submission(server, alice, bob, links,
                                                                  rtms):
    j, bot, app = make_app(server, alice, events=[], commands=["/ask"])
    other_j, other_bot, _ = make_app(server, alice, events=[], commands=["/other"])
    link = links(app)
    c = alice.ok("conversations.create", name=unique("modal"))["channel"]["id"]
    wa = rtms(server, alice)
    trigger, v = open_modal(server, alice, link, bot, c)
    assert v["id"].startswith("V") and v["type"] == "modal" and v["root_view_id"] == v["id"], v
    assert (v["app_id"], v["bot_id"], v["team_id"]) == (j["app_id"], j["bot_id"], alice.team_id)
    assert v["callback_id"] == "ask-view" and v["private_metadata"] == "meta-1", v
    assert v["state"] == {"values": {}} and v["hash"] and v["previous_view_id"] is None, v
    assert v["blocks"][0]["block_id"], v  # every block gets an id
    assert view_event(wa, "view_opened", v["id"])["view"]["title"]["text"] == "Ask"

    # a trigger opens one view, for the app it was made for, and is checked
    bot.fail("views.open", "exchanged_trigger_id", via="json", trigger_id=trigger, view=VIEW)
    other_bot.fail("views.open", "invalid_trigger_id", via="json", trigger_id=trigger,
                   view=VIEW)
    bot.fail("views.open", "invalid_trigger_id", via="json", trigger_id="123.456.abc",
             view=VIEW)
    bot.fail("views.open", "invalid_trigger_id", via="json",  # the longest fields it parses
             trigger_id=".".join(["A" * 43] * 5), view=VIEW)
    alice.fail("views.open", "not_allowed_token_type", via="json", trigger_id=trigger,
               view=VIEW)
    for bad in ({"type": "modal", "blocks": []},  # no title
                {"type": "home", "title": VIEW["title"], "blocks": []},
                {"type": "modal", "title": {"type": "plain_text", "text": "x" * 25},
                 "blocks": []},
                {**VIEW, "submit": 1},
                {k: x for k, x in VIEW.items() if k != "submit"}):  # inputs, no submit
        # the view is checked before the trigger is spent
        bot.fail("views.open", "invalid_arguments", via="json", trigger_id=trigger, view=bad)

    # only the person submits, with what the view asks
    bob.fail("views.submit", "not_found", via="json", view_id=v["id"], values={})
    alice.fail("views.submit", "invalid_arguments", via="json", view_id=v["id"], values={})
    alice.fail("views.submit", "invalid_arguments", via="json", view_id=v["id"],
               values={"q": {"text": {"type": "plain_text_input", "value": "x"}},
                       "how": {"pick": {"type": "static_select",
                                        "selected_option": {"value": "nosuch"}}}})
    values = {"q": {"text": {"type": "plain_text_input", "value": "Why é?"}},
              "how": {"pick": {"type": "static_select", "selected_option": {"value": "high"}}}}
    alice.ok("views.submit", via="json", view_id=v["id"], values=values)
    env = submission(link)
    p = env["payload"]
    assert p["api_app_id"] == j["app_id"] and p["user"]["id"] == alice.user_id, p
    assert p["team"]["id"] == alice.team_id and p["trigger_id"], p
    sv = p["view"]
    assert sv["id"] == v["id"] and sv["callback_id"] == "ask-view", sv
    assert sv["state"]["values"]["q"]["text"] == {"type": "plain_text_input", "value": "Why é?"}
    assert sv["state"]["values"]["how"]["pick"]["selected_option"]["value"] == "high", sv
    assert sv["state"]["values"]["how"]["pick"]["selected_option"]["text"]["text"] == "High"

    # errors: the view stays open and the person sees them
    answer(link, env, {"response_action": "errors", "errors": {"q": "Too vague"}})
    e = view_event(wa, "view_errors", v["id"])
    assert e["errors"] == {"q": "Too vague"}, e
    # update: the view changes in place, with a new hash
    alice.ok("views.submit", via="json", view_id=v["id"], values=values)
    env = submission(link)
    answer(link, env, {"response_action": "update", "view": {
        **VIEW, "title": {"type": "plain_text", "text": "Ask again"}}})
    e = view_event(wa, "view_updated", v["id"])
    assert e["view"]["title"]["text"] == "Ask again" and e["view"]["hash"] != v["hash"], e
    # push: a second view on top of it
    alice.ok("views.submit", via="json", view_id=v["id"], values=values)
    env = submission(link)
    answer(link, env, {"response_action": "push", "view": {
        "type": "modal", "title": {"type": "plain_text", "text": "Sure?"}, "blocks": []}})
    top = view_event(wa, "view_opened")["view"]
    assert top["previous_view_id"] == v["id"] and top["root_view_id"] == v["id"], top
    # a bare acknowledgement closes the view submitted
    alice.ok("views.submit", via="json", view_id=top["id"], values={})
    answer(link, submission(link))
    assert view_event(wa, "view_closed", top["id"])
    alice.fail("views.submit", "not_found", via="json", view_id=top["id"], values={})
    # clear: closes the whole stack
    alice.ok("views.submit", via="json", view_id=v["id"], values=values)
    answer(link, submission(link), {"response_action": "clear"})
    assert view_event(wa, "view_closed", v["id"])


def test_update_publish_and_close(server, alice, bob, links, rtms):
    # (a command names one app of the workspace: each test has its own)
    j, bot, app = make_app(server, alice, events=[], commands=["/ask2"])
    link = links(app)
    c = alice.ok("conversations.create", name=unique("modal"))["channel"]["id"]
    wa = rtms(server, alice)
    view = {**VIEW, "external_id": unique("ext"), "notify_on_close": True}
    _, v = open_modal(server, alice, link, bot, c, view, "/ask2")
    assert v["external_id"] == view["external_id"], v
    # views.update: by id or external id; a stale hash conflicts
    changed = {**view, "title": {"type": "plain_text", "text": "Changed"}}
    u = bot.ok("views.update", via="json", view_id=v["id"], hash=v["hash"], view=changed)["view"]
    assert u["id"] == v["id"] and u["title"]["text"] == "Changed" and u["hash"] != v["hash"]
    bot.fail("views.update", "hash_conflict", via="json", view_id=v["id"], hash=v["hash"],
             view=changed)
    u2 = bot.ok("views.update", via="json", external_id=view["external_id"], view=changed)["view"]
    assert u2["id"] == v["id"], u2
    bot.fail("views.update", "not_found", via="json", view_id="VNOSUCH1", view=changed)
    assert view_event(wa, "view_updated", v["id"])
    # a second view may not take an external id in use
    alice.ok("chat.command", channel=c, command="/ask2", text="")
    env = envelope_of(link, "slash_commands")
    link.ack(env)
    bot.fail("views.open", "duplicate_external_id", via="json",
             trigger_id=env["payload"]["trigger_id"], view=view)

    # the person closes it: the app hears view_closed, as it asked
    bob.fail("views.close", "not_found", via="json", view_id=v["id"])
    alice.ok("views.close", via="json", view_id=v["id"])
    assert view_event(wa, "view_closed", v["id"])
    env = envelope_of(link, "interactive")
    assert env["payload"]["type"] == "view_closed", env
    assert env["payload"]["view"]["id"] == v["id"] and env["payload"]["is_cleared"] is False
    link.ack(env)

    # App Home: one view per person, replaced by each publish
    home = {"type": "home", "blocks": [{"type": "section",
                                        "text": {"type": "mrkdwn", "text": "Welcome"}}]}
    h1 = bot.ok("views.publish", via="json", user_id=alice.user_id, view=home)["view"]
    h2 = bot.ok("views.publish", via="json", user_id=alice.user_id, view=home)["view"]
    assert h1["id"] == h2["id"] and h1["type"] == "home" and h1["hash"] != h2["hash"], (h1, h2)
    bot.fail("views.publish", "hash_conflict", via="json", user_id=alice.user_id,
             hash=h1["hash"], view=home)
    bot.fail("views.publish", "invalid_arguments", via="json", user_id=alice.user_id, view=VIEW)
    bot.fail("views.publish", "user_not_found", via="json", user_id="UNOSUCH1", view=home)


def test_a_click_in_a_modal_reaches_the_app_and_may_push(server, alice, bob, links, rtms):
    j, bot, app = make_app(server, alice, events=[], commands=["/ask3"])
    link = links(app)
    c = alice.ok("conversations.create", name=unique("modal"))["channel"]["id"]
    wa = rtms(server, alice)
    view = {**VIEW, "blocks": VIEW["blocks"] + [
        {"type": "actions", "block_id": "more", "elements": [
            {"type": "button", "action_id": "details", "value": "v1",
             "text": {"type": "plain_text", "text": "Details"}}]}]}
    _, v = open_modal(server, alice, link, bot, c, view, "/ask3")
    values = {"q": {"text": {"type": "plain_text_input", "value": "half done"}}}
    bob.fail("views.action", "not_found", via="json", view_id=v["id"], action_id="details")
    alice.fail("views.action", "invalid_arguments", via="json", view_id=v["id"],
               action_id="nosuch")
    alice.ok("views.action", via="json", view_id=v["id"], action_id="details", values=values)
    env = envelope_of(link, "interactive")
    p = env["payload"]
    assert p["type"] == "block_actions" and p["container"] == {"type": "view",
                                                               "view_id": v["id"]}, p
    assert p["actions"][0]["action_id"] == "details" and p["actions"][0]["block_id"] == "more"
    assert p["view"]["state"]["values"]["q"]["text"]["value"] == "half done", p
    link.ack(env)
    # its trigger_id pushes a view on the modal
    pushed = bot.ok("views.push", via="json", trigger_id=p["trigger_id"], view={
        "type": "modal", "title": {"type": "plain_text", "text": "Details"},
        "blocks": []})["view"]
    assert pushed["previous_view_id"] == v["id"] and pushed["root_view_id"] == v["id"], pushed
    assert view_event(wa, "view_opened", pushed["id"])
