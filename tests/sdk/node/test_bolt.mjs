// Slack's Bolt for JavaScript (@slack/bolt, from npm), unchanged, as an app
// over the Events API: chatd POSTs its events, signed, to Bolt's own HTTP
// receiver, whose handlers answer through the Web API: a message, an
// app_mention, a slash command, one that opens a modal and the modal's
// submission, a button click. Only slackApiUrl is pointed at chatd. (The
// person's side reads the event stream with Node's WebSocket: node runs
// with --experimental-websocket, which Node 22 no longer needs.)
//
// Run: CHATD=/path/to/chatd NODE_PATH=~/.cache/libchat/sdk-node/current/node_modules \
//        node --test tests/sdk/node/test_bolt.mjs

import fs from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Chatd, TEST_TIMEOUT_MS, freePort, sleep, unique } from './chatd.mjs';

const require = createRequire(import.meta.url);
let bolt;
try {
  bolt = require('@slack/bolt');
} catch (e) {
  throw new Error(`@slack/bolt is not installed where NODE_PATH (${process.env.NODE_PATH}) `
    + `points: run scripts/deps-node.sh\n${e.message}`);
}
const { App, LogLevel } = bolt;
const { WebClient } = require('@slack/web-api');

const WAIT_MS = 20000;

let server;
let alice;
let app;
let made;

async function call(token, method, args) {
  const r = await fetch(`${server.base}/api/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json; charset=utf-8', Authorization: `Bearer ${token}` },
    body: JSON.stringify(args),
  });
  const j = await r.json();
  assert.equal(j.ok, true, `${method}: ${JSON.stringify(j)}`);
  return j;
}

async function waitFor(what, fn) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

before(async () => {
  server = await new Chatd(['--set', 'gateway.app_retry_ms=1000']).start();
  alice = await server.signup('boltalice', 'Alice');
  const port = await freePort();
  made = await call(alice.token, 'apps.manifest.create', {
    manifest: {
      display_information: { name: 'Bolt Bot' },
      features: {
        bot_user: { display_name: 'boltbot' },
        slash_commands: [{ command: '/ship', url: `http://127.0.0.1:${port}/slack/events` },
          { command: '/ask', url: `http://127.0.0.1:${port}/slack/events` }],
      },
      oauth_config: { scopes: { bot: ['chat:write', 'channels:join', 'channels:history',
        'app_mentions:read', 'commands'] } },
      settings: {
        interactivity: { is_enabled: true, request_url: `http://127.0.0.1:${port}/slack/events` },
        event_subscriptions: {
          request_url: `http://127.0.0.1:${port}/slack/events`,
          bot_events: ['message.channels', 'app_mention'],
        },
      },
    },
  });
  // Built as a Bolt app is built; only slackApiUrl differs.
  app = new App({
    token: made.bot_token,
    signingSecret: made.credentials.signing_secret,
    clientOptions: { slackApiUrl: `${server.base}/api/`, retryConfig: { retries: 0 } },
    logLevel: LogLevel.ERROR,
  });
  app.message('hello bolt', async ({ message, say }) => {
    await say(`hi <@${message.user}>`);
  });
  app.event('app_mention', async ({ event, say }) => {
    await say({ text: 'on it', thread_ts: event.ts });
  });
  app.action('approve', async ({ action, ack, respond }) => {
    await ack();
    await respond({ replace_original: true, text: `approved ${action.value}` });
  });
  app.command('/ship', async ({ command, ack, respond }) => {
    await ack();
    await respond({ response_type: 'in_channel', text: `shipped ${command.text}` });
  });
  app.command('/ask', async ({ ack, body, client }) => {
    await ack();
    await client.views.open({
      trigger_id: body.trigger_id,
      view: {
        type: 'modal',
        callback_id: 'ask_view',
        private_metadata: body.channel_id,
        title: { type: 'plain_text', text: 'Ask' },
        submit: { type: 'plain_text', text: 'Send' },
        blocks: [{ type: 'input', block_id: 'q', label: { type: 'plain_text', text: 'Question' },
          element: { type: 'plain_text_input', action_id: 'text' } }],
      },
    });
  });
  app.view('ask_view', async ({ ack, view, client }) => {
    const q = view.state.values.q.text.value;
    if (q === 'bad') {
      await ack({ response_action: 'errors', errors: { q: 'too vague' } });
      return;
    }
    await ack();
    await client.chat.postMessage({ channel: view.private_metadata, text: `asked: ${q}` });
  });
  await app.start(port);
});

after(async () => {
  if (app) await app.stop();
  if (!server) return;
  const [alive, code] = await server.stop();
  const tail = server.logTail();
  fs.rmSync(server.dataDir, { recursive: true, force: true });
  assert.ok(alive, `chatd died during the tests:\n${tail}`);
  assert.equal(code, 0, `chatd exited with ${code} on SIGTERM:\n${tail}`);
});

test('a Bolt app hears a message and an app_mention over the Events API', { timeout: TEST_TIMEOUT_MS }, async () => {
  const bot = new WebClient(made.bot_token, { slackApiUrl: `${server.base}/api/` });
  const channel = (await call(alice.token, 'conversations.create', { name: unique('bolt') })).channel.id;
  await bot.conversations.join({ channel });

  await call(alice.token, 'chat.postMessage', { channel, text: 'hello bolt' });
  const reply = await waitFor('the app\'s reply', async () => {
    const h = await call(alice.token, 'conversations.history', { channel });
    return h.messages.find((m) => m.text === `hi <@${alice.user_id}>`);
  });
  assert.equal(reply.bot_id, made.bot_id);
  assert.equal(reply.user, made.bot_user_id);

  const asked = await call(alice.token, 'chat.postMessage',
    { channel, text: `<@${made.bot_user_id}> deploy` });
  const threaded = await waitFor('the reply in the thread', async () => {
    const r = await call(alice.token, 'conversations.replies', { channel, ts: asked.ts });
    return r.messages.find((m) => m.text === 'on it');
  });
  assert.equal(threaded.thread_ts, asked.ts);
  // the app answered each once (Bolt ignores the bot's own messages)
  const h = await call(alice.token, 'conversations.history', { channel });
  assert.equal(h.messages.filter((m) => m.text === `hi <@${alice.user_id}>`).length, 1);
});

test('a Bolt app runs a slash command and answers through its response_url', { timeout: TEST_TIMEOUT_MS }, async () => {
  const channel = (await call(alice.token, 'conversations.create', { name: unique('boltcmd') })).channel.id;
  await call(alice.token, 'chat.command', { channel, command: '/ship', text: 'v3' });
  const answer = await waitFor('the answer in the channel', async () => {
    const h = await call(alice.token, 'conversations.history', { channel });
    return h.messages.find((m) => m.text === 'shipped v3');
  });
  assert.equal(answer.bot_id, made.bot_id); // the bot answers where it is not a member
});

test('a Bolt app hears a button click and replaces the message', { timeout: TEST_TIMEOUT_MS }, async () => {
  const bot = new WebClient(made.bot_token, { slackApiUrl: `${server.base}/api/` });
  const channel = (await call(alice.token, 'conversations.create', { name: unique('boltbtn') })).channel.id;
  await bot.conversations.join({ channel });
  const posted = await bot.chat.postMessage({
    channel,
    text: 'Ship?',
    blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: 'approve', value: 'v4', text: { type: 'plain_text', text: 'Approve' } }] }],
  });
  await call(alice.token, 'blocks.actions', { channel, ts: posted.ts, action_id: 'approve' });
  await waitFor('the replaced message', async () => {
    const h = await call(alice.token, 'conversations.history', { channel });
    return h.messages.find((m) => m.ts === posted.ts && m.text === 'approved v4');
  });
});

test('a Bolt app opens a modal from a slash command and hears its submission', { timeout: TEST_TIMEOUT_MS }, async () => {
  assert.equal(typeof WebSocket, 'function', 'run node with --experimental-websocket');
  const channel = (await call(alice.token, 'conversations.create', { name: unique('boltmodal') })).channel.id;
  await call(made.bot_token, 'conversations.join', { channel });
  const rtm = new WebSocket((await call(alice.token, 'rtm.connect', {})).url);
  const events = [];
  rtm.onmessage = (m) => events.push(JSON.parse(m.data));
  const next = (type) => waitFor(type, () => {
    const i = events.findIndex((e) => e.type === type);
    return i >= 0 ? events.splice(i, 1)[0] : null;
  });
  try {
    await next('hello');
    await call(alice.token, 'chat.command', { channel, command: '/ask', text: '' });
    const { view } = await next('view_opened');
    assert.equal(view.callback_id, 'ask_view');
    assert.equal(view.app_id, made.app_id);
    const values = (text) => ({ q: { text: { type: 'plain_text_input', value: text } } });
    await call(alice.token, 'views.submit', { view_id: view.id, values: values('bad') });
    assert.deepEqual((await next('view_errors')).errors, { q: 'too vague' });
    await call(alice.token, 'views.submit', { view_id: view.id, values: values('why') });
    assert.equal((await next('view_closed')).view.id, view.id);
  } finally {
    rtm.close();
  }
  const asked = await waitFor('the submission\'s message', async () => {
    const h = await call(alice.token, 'conversations.history', { channel });
    return h.messages.find((m) => m.text === 'asked: why');
  });
  assert.equal(asked.bot_id, made.bot_id);
});
