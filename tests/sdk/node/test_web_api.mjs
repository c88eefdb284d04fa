// Slack's own Node SDK (@slack/web-api, from npm) against chatd, unchanged.
//
// The WebClient is built as a Slack app builds it, with only slackApiUrl
// pointed at chatd's Web API. chatd's path comes from the CHATD environment
// variable (ctest sets it); this file starts its own server on a free loopback
// port with a temporary data directory, signs the bot user up with a plain
// fetch to auth.signup, and stops the server at the end (it must exit 0 on
// SIGTERM).
//
// The packages live outside the checkout (scripts/deps-node.sh installs them
// into ~/.cache/libchat/sdk-node/current/node_modules); NODE_PATH points there,
// which is why the SDK is loaded with require() rather than import.
//
// Run: CHATD=/path/to/chatd NODE_PATH=~/.cache/libchat/sdk-node/current/node_modules \
//        node --test tests/sdk/node/test_web_api.mjs

import fs from 'node:fs';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { Chatd, TEST_TIMEOUT_MS, sleep, unique } from './chatd.mjs';

const SEARCH_TIMEOUT_MS = 15000;
const LONG_HISTORY = 250;

const require = createRequire(import.meta.url);
let sdk;
try {
  sdk = require('@slack/web-api');
} catch (e) {
  throw new Error(`@slack/web-api is not installed where NODE_PATH (${process.env.NODE_PATH}) `
    + `points: run scripts/deps-node.sh\n${e.message}`);
}
const { WebClient, ErrorCode } = sdk;

let server;
let bot;
let client;

before(async () => {
  server = await new Chatd().start();
  bot = await server.signup('sdkbot', 'SDK Bot');
  // Built as a Slack app builds it; only slackApiUrl differs. No retries, so a
  // failing call reports its own error instead of retrying until the timeout.
  client = new WebClient(bot.token, {
    slackApiUrl: `${server.base}/api/`,
    retryConfig: { retries: 0 },
  });
});

after(async () => {
  if (!server) return;
  const [alive, code] = await server.stop();
  const tail = server.logTail();
  fs.rmSync(server.dataDir, { recursive: true, force: true });
  assert.ok(alive, `chatd died during the tests:\n${tail}`);
  assert.equal(code, 0, `chatd exited with ${code} on SIGTERM:\n${tail}`);
});

async function newChannel(prefix) {
  const name = unique(prefix);
  const r = await client.conversations.create({ name });
  assert.equal(r.ok, true);
  assert.equal(r.channel.name, name);
  assert.match(r.channel.id, /^[CG]/);
  return r.channel.id;
}

const topLevel = (messages) => messages.filter((m) => m.subtype === undefined);

// ------------------------------------------------------------- tests ---

test('auth.test', { timeout: TEST_TIMEOUT_MS }, async () => {
  const r = await client.auth.test();
  assert.equal(r.ok, true);
  assert.equal(r.user_id, bot.user_id);
  assert.equal(r.team_id, bot.team_id);
  assert.equal(r.user, bot.user.name);
});

test('bot session: channel, post, thread, update, react, history, replies, search',
  { timeout: TEST_TIMEOUT_MS }, async () => {
    const user = bot.user_id;
    const name = unique('sdk-session-');
    const created = await client.conversations.create({ name });
    const channel = created.channel.id;
    assert.equal(created.channel.name, name);
    assert.equal(created.channel.is_member, true);

    // post
    const parentText = `hello from @slack/web-api ${unique('p')}`;
    const posted = await client.chat.postMessage({ channel, text: parentText });
    assert.equal(posted.ok, true);
    assert.equal(posted.channel, channel);
    const parentTs = posted.ts;
    assert.equal(posted.message.text, parentText);
    assert.equal(posted.message.user, user);
    assert.equal(posted.message.ts, parentTs);

    // thread reply
    const replyText = 'a reply in the thread';
    const reply = await client.chat.postMessage({ channel, text: replyText, thread_ts: parentTs });
    const replyTs = reply.ts;
    assert.equal(reply.message.thread_ts, parentTs);
    assert.equal(reply.message.text, replyText);
    assert.ok(Number(replyTs) > Number(parentTs));

    // a later top-level message, to check history order
    const laterText = 'a later top-level message';
    const laterTs = (await client.chat.postMessage({ channel, text: laterText })).ts;
    assert.ok(Number(laterTs) > Number(replyTs));

    // update
    const editedText = `${parentText} (edited)`;
    const upd = await client.chat.update({ channel, ts: parentTs, text: editedText });
    assert.equal(upd.ok, true);
    assert.equal(upd.channel, channel);
    assert.equal(upd.ts, parentTs);
    assert.equal(upd.text, editedText);

    // react
    assert.equal((await client.reactions.add({ channel, timestamp: parentTs, name: 'thumbsup' })).ok, true);
    const got = await client.reactions.get({ channel, timestamp: parentTs });
    assert.equal(got.type, 'message');
    assert.deepEqual(got.message.reactions, [{ name: 'thumbsup', users: [user], count: 1 }]);

    // history: newest first, top-level messages only, the parent edited,
    // threaded and reacted to
    const hist = await client.conversations.history({ channel });
    assert.equal(hist.ok, true);
    assert.equal(hist.has_more, false);
    const msgs = topLevel(hist.messages);
    assert.deepEqual(msgs.map((m) => m.ts), [laterTs, parentTs]);
    assert.deepEqual(msgs.map((m) => m.text), [laterText, editedText]);
    const parent = msgs[1];
    assert.equal(parent.type, 'message');
    assert.equal(parent.user, user);
    assert.equal(parent.thread_ts, parentTs);
    assert.equal(parent.reply_count, 1);
    assert.deepEqual(parent.reply_users, [user]);
    assert.equal(parent.latest_reply, replyTs);
    assert.equal(parent.edited.user, user);
    assert.deepEqual(parent.reactions, [{ name: 'thumbsup', users: [user], count: 1 }]);
    assert.ok(msgs[0].reactions === undefined || msgs[0].reactions.length === 0);

    // replies: the parent first, then the reply, oldest first
    const rep = await client.conversations.replies({ channel, ts: parentTs });
    assert.equal(rep.ok, true);
    assert.deepEqual(rep.messages.map((m) => m.ts), [parentTs, replyTs]);
    assert.deepEqual(rep.messages.map((m) => m.text), [editedText, replyText]);
    for (const m of rep.messages) assert.equal(m.thread_ts, parentTs);
    assert.equal(rep.messages[0].reply_count, 1);

    // search (may be indexed asynchronously: poll for a while)
    const word = unique('needle');
    const searchText = `the ${word} in the haystack`;
    const searchTs = (await client.chat.postMessage({ channel, text: searchText })).ts;
    const deadline = Date.now() + SEARCH_TIMEOUT_MS;
    let found;
    for (;;) {
      found = await client.search.messages({ query: word });
      assert.equal(found.ok, true);
      if (found.messages.matches.length > 0 || Date.now() > deadline) break;
      await sleep(200);
    }
    const { matches } = found.messages;
    assert.equal(matches.length, 1, JSON.stringify(found));
    assert.equal(found.messages.total, 1);
    assert.equal(matches[0].ts, searchTs);
    assert.equal(matches[0].text, searchText);
    assert.equal(matches[0].user, user);
    assert.equal(matches[0].channel.id, channel);
    assert.equal(matches[0].channel.name, name);

    // remove the reaction again
    assert.equal((await client.reactions.remove({ channel, timestamp: parentTs, name: 'thumbsup' })).ok, true);
    const cleared = await client.reactions.get({ channel, timestamp: parentTs });
    assert.ok(!cleared.message.reactions || cleared.message.reactions.length === 0);
  });

test('long history through client.paginate', { timeout: TEST_TIMEOUT_MS }, async () => {
  const channel = await newChannel('sdk-long-');
  const posted = [];
  for (let i = 0; i < LONG_HISTORY; i++) {
    const text = `message ${String(i).padStart(3, '0')}`;
    const r = await client.chat.postMessage({ channel, text });
    posted.push([r.ts, text]);
  }

  // The SDK's own cursor iteration.
  const seen = [];
  let pages = 0;
  for await (const page of client.paginate('conversations.history', { channel, limit: 100 })) {
    pages += 1;
    assert.equal(page.ok, true);
    assert.ok(page.messages.length <= 100);
    for (const m of topLevel(page.messages)) seen.push([m.ts, m.text]);
    assert.ok(pages <= 10, 'the cursor iteration does not end');
  }
  assert.equal(pages, 3);
  // every message exactly once, newest first
  assert.equal(new Set(seen.map(([ts]) => ts)).size, seen.length);
  assert.deepEqual(seen, posted.reverse());
});

test('files.uploadV2 and download of url_private', { timeout: TEST_TIMEOUT_MS }, async () => {
  const channel = await newChannel('sdk-files-');
  const content = Buffer.concat([
    Buffer.from('hello from @slack/web-api files.uploadV2\n'),
    Buffer.from([0x00, 0x01, 0xfe, 0xff]),
    Buffer.from('binary tail'),
  ]);
  const up = await client.files.uploadV2({
    channel_id: channel,
    file: content,
    filename: 'hello.txt',
    title: 'Hello file',
    initial_comment: 'here is a file',
  });
  assert.equal(up.ok, true);
  // one files.completeUploadExternal answer, with one file in it
  assert.equal(up.files.length, 1);
  assert.equal(up.files[0].ok, true);
  assert.equal(up.files[0].files.length, 1);
  const fileId = up.files[0].files[0].id;
  assert.match(fileId, /^F/);
  assert.equal(up.files[0].files[0].title, 'Hello file');

  const info = await client.files.info({ file: fileId });
  assert.equal(info.ok, true);
  assert.equal(info.file.id, fileId);
  assert.equal(info.file.name, 'hello.txt');
  assert.equal(info.file.title, 'Hello file');
  assert.equal(info.file.size, content.length);
  assert.equal(info.file.user, bot.user_id);
  assert.ok(info.file.channels.includes(channel), JSON.stringify(info.file));
  const url = info.file.url_private;
  assert.ok(url);

  // download url_private with the token, as Slack's docs say to
  const dl = await fetch(url, { headers: { Authorization: `Bearer ${bot.token}` } });
  assert.equal(dl.status, 200);
  assert.deepEqual(Buffer.from(await dl.arrayBuffer()), content);

  // without the token the bytes must not come back
  const anon = await fetch(url);
  const anonBody = Buffer.from(await anon.arrayBuffer());
  assert.ok(!(anon.status === 200 && anonBody.equals(content)), `status ${anon.status}`);

  // the upload was shared into the channel as a message carrying the file
  const hist = await client.conversations.history({ channel });
  const carrying = hist.messages.filter((m) => (m.files ?? []).some((f) => f.id === fileId));
  assert.equal(carrying.length, 1, JSON.stringify(hist));
  assert.equal(carrying[0].text, 'here is a file');

  const listed = await client.files.list({ channel });
  assert.deepEqual(listed.files.map((f) => f.id), [fileId]);

  assert.equal((await client.files.delete({ file: fileId })).ok, true);
  await assert.rejects(client.files.info({ file: fileId }), (e) => {
    assert.equal(e.code, ErrorCode.PlatformError);
    // Slack documents both for files.info: file_deleted while it remembers the file
    assert.ok(['file_deleted', 'file_not_found'].includes(e.data.error), e.data.error);
    return true;
  });
});

test('errors come back as platform errors', { timeout: TEST_TIMEOUT_MS }, async () => {
  await assert.rejects(
    client.chat.postMessage({ channel: 'C0NOSUCHCHANNEL', text: 'nobody hears this' }),
    (e) => {
      assert.equal(e.code, ErrorCode.PlatformError, String(e));
      assert.equal(e.data.ok, false);
      assert.equal(e.data.error, 'channel_not_found');
      return true;
    });
  await assert.rejects(client.conversations.history({ channel: 'C0NOSUCHCHANNEL' }), (e) => {
    assert.equal(e.code, ErrorCode.PlatformError, String(e));
    assert.equal(e.data.error, 'channel_not_found');
    return true;
  });
});
