// The web client (web/) end to end, in Debian's headless Chromium driven by
// playwright-core, against a real chatd.
//
// It starts its own chatd (path from CHATD) on a free loopback port with a
// temporary data directory and the checkout's web/ as --web-root, opens two
// browser contexts (two people), and goes through what a person does: sign
// up, create and join a channel, talk in real time, unread badges, a thread,
// reactions, edit and delete, an image upload with its preview, hostile
// markup that must stay text, an app's blocks and attachments, search,
// history paging, a server restart the page must recover from without a
// reload, reload, phone width, dark mode and sign out. Screenshots of each
// main screen go to CHAT_ARTIFACTS (default: ./artifacts, which ctest makes
// the build's tests/web/artifacts).
//
// Packages live outside the checkout: scripts/deps-web.sh installs
// playwright-core into ~/.cache/libchat/web-node/<key>/node_modules (NODE_PATH
// points there, hence require() rather than import) and Debian's chromium.
// Playwright gives every launch a fresh temporary --user-data-dir itself.
//
// Run: CHATD=/path/to/chatd NODE_PATH=~/.cache/libchat/web-node/current/node_modules \
//        node --test tests/web/test_web.mjs

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  throw new Error(`playwright-core is not installed where NODE_PATH (${process.env.NODE_PATH}) `
    + `points: run scripts/deps-web.sh\n${e.message}`);
}

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WEB_ROOT = process.env.CHAT_WEB_ROOT || path.resolve(HERE, '../../web');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.resolve(process.env.CHAT_ARTIFACTS || 'artifacts');
const START_TIMEOUT_MS = Number(process.env.CHAT_E2E_START_TIMEOUT ?? 60) * 1000;
const STOP_TIMEOUT_MS = 30000;
const WAIT_MS = 15000;
const PASSWORD = 'correct horse battery staple';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const uniq = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A small PNG, made here: a 64x48 gradient.
function makePng(w = 64, h = 48) {
  const table = new Int32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  const crc32 = (buf) => {
    let c = -1;
    for (const b of buf) c = table[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ -1) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + w * 3);
    for (let x = 0; x < w; x++) {
      row[1 + x * 3] = Math.round((x / (w - 1)) * 255);
      row[2 + x * 3] = Math.round((y / (h - 1)) * 200);
      row[3 + x * 3] = 180;
    }
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ------------------------------------------------------------- chatd ---

class Chatd {
  constructor() {
    this.exe = process.env.CHATD;
    if (!this.exe) throw new Error('CHATD is not set: run through ctest, or set CHATD=/path/to/chatd');
    fs.accessSync(this.exe, fs.constants.X_OK);
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'libchat-web-'));
    this.logPath = path.join(this.dataDir, 'chatd.log');
    this.port = null;
    this.proc = null;
    this.exited = null;
  }

  // The first start picks a port; later ones reuse it and the data dir.
  async start() {
    let last = '';
    for (let attempt = 0; attempt < 5; attempt++) {
      if (this.port === null || attempt > 0 && !this.fixedPort) this.port = await freePort();
      this.base = `http://127.0.0.1:${this.port}`;
      const log = fs.openSync(this.logPath, 'a');
      this.exited = null;
      this.proc = spawn(this.exe, [
        '--data', this.dataDir, '--listen', this.base, '--web-root', WEB_ROOT,
        '--set', 'argon2.m_cost_kib=64', '--set', 'argon2.t_cost=1',
      ], { stdio: ['ignore', log, log] });
      fs.closeSync(log);
      const proc = this.proc;
      proc.on('exit', (code, signal) => { if (this.proc === proc) this.exited = { code, signal }; });
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (Date.now() < deadline && !this.exited) {
        try {
          const r = await fetch(`${this.base}/health`);
          if (r.ok) {
            this.fixedPort = true;
            return;
          }
        } catch { /* not yet */ }
        await sleep(100);
      }
      last = fs.readFileSync(this.logPath, 'utf8').slice(-2000);
      if (!this.exited) {
        proc.kill('SIGKILL');
        throw new Error(`chatd did not answer within ${START_TIMEOUT_MS} ms:\n${last}`);
      }
      if (this.fixedPort) {
        // A restart on the same port: the old socket may linger a moment.
        await sleep(500);
      }
    }
    throw new Error(`chatd would not start:\n${last}`);
  }

  async stop() {
    if (!this.proc || this.exited) return this.exited;
    const proc = this.proc;
    const gone = once(proc, 'exit');
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const [code, signal] = await gone;
    clearTimeout(t);
    return { code, signal };
  }

  async api(token, method, args = {}) {
    const r = await fetch(`${this.base}/api/${method}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(args),
    });
    const body = await r.json();
    if (!body.ok) throw new Error(`${method}: ${body.error} ${body.detail || ''}`);
    return body;
  }

  cleanup() {
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------ browser ---

let chatd;
let browser;
const people = {}; // name -> { context, page, token, id, dialogs, errors }
let failed = false;

async function person(name, { viewport = DESKTOP, colorScheme = 'light' } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, locale: 'en-US', timezoneId: 'UTC' });
  // Keeps a handle on the page's WebSockets, so that a test can drop them.
  await context.addInitScript(() => {
    const Native = window.WebSocket;
    window.__sockets = [];
    window.WebSocket = class extends Native {
      constructor(...args) {
        super(...args);
        window.__sockets.push(this);
      }
    };
  });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  const p = { name, context, page, dialogs: [], errors: [], console: [] };
  page.on('dialog', async (d) => { p.dialogs.push(`${d.type()}: ${d.message()}`); await d.dismiss(); });
  page.on('pageerror', (e) => p.errors.push(e.message));
  page.on('console', (m) => p.console.push(`${m.type()}: ${m.text()}`));
  people[name] = p;
  return p;
}

async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

// Runs a step; on failure keeps a screenshot of every page.
async function step(t, name, fn) {
  await t.test(name, async () => {
    try {
      await fn();
    } catch (e) {
      failed = true;
      const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
      for (const [who, p] of Object.entries(people)) {
        try { await shot(p.page, `failure-${slug}-${who}`); } catch { /* closed */ }
        if (p.console.length) console.log(`--- ${who}'s console (last 20):\n${p.console.slice(-20).join('\n')}`);
      }
      throw e;
    }
  });
}

const log = (p) => p.page.locator('.main .scroller');
const msgText = (p, text) => log(p).locator('.msg .msg-text', { hasText: text });
const sidebarLink = (p, channel) => p.page.locator(`#sidebar a.conv[data-channel="${channel}"]`);

async function signUp(p, realName, email) {
  await p.page.goto(`${chatd.base}/`);
  await p.page.getByRole('tab', { name: 'Create account' }).click();
  await p.page.getByLabel('Full name').fill(realName);
  await p.page.getByLabel('Email').fill(email);
  await p.page.getByLabel('Password').fill(PASSWORD);
  await p.page.getByRole('button', { name: 'Create account' }).click();
  await p.page.locator('#composer-input').waitFor();
  p.token = await p.page.evaluate(() => localStorage.getItem('libchat.token'));
  const me = await chatd.api(p.token, 'auth.test');
  p.id = me.user_id;
  p.handle = me.user;
}

async function send(p, text, where = '#composer-input') {
  const box = p.page.locator(where);
  await box.click();
  await box.fill(text);
  await box.press('Enter');
}

async function currentChannel(p) {
  return p.page.evaluate(() => (/^#\/([A-Z0-9]+)/.exec(location.hash) || [])[1]);
}

// A message can be drawn again under the pointer (an event about it came
// in): try again on a fresh element.
async function hover(p, locator) {
  for (let i = 0; ; i++) {
    try {
      await locator.scrollIntoViewIfNeeded({ timeout: 5000 });
      await locator.hover({ timeout: 5000 });
      return;
    } catch (e) {
      if (i >= 2) throw e;
    }
  }
}

before(async () => {
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
  } catch {
    throw new Error(`no chromium at ${CHROMIUM}: run scripts/deps-web.sh (or set CHROMIUM)`);
  }
  fs.accessSync(path.join(WEB_ROOT, 'index.html'));
  chatd = new Chatd();
  await chatd.start();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (chatd) {
    await chatd.stop().catch(() => {});
    if (failed) console.log(`chatd's data and log kept in ${chatd.dataDir}`);
    else chatd.cleanup();
  }
});

test('web client', { timeout: 480000 }, async (t) => {
  let ada;
  let bob;
  let channel;
  let general;
  const channelName = `design-${uniq}`;

  await step(t, 'the gateway serves the client at /', async () => {
    const r = await fetch(`${chatd.base}/`);
    assert.equal(r.status, 200);
    assert.match(await r.text(), /<script type="module" src="app.js">/);
    const js = await fetch(`${chatd.base}/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') || '', /javascript/);
  });

  await step(t, 'two people sign up', async () => {
    ada = await person('ada');
    await ada.page.goto(`${chatd.base}/`);
    await ada.page.getByRole('tab', { name: 'Sign in' }).waitFor();
    await shot(ada.page, '01-login');
    await signUp(ada, 'Ada Lovelace', `ada-${uniq}@example.com`);
    bob = await person('bob');
    await signUp(bob, 'Bob Babbage', `bob-${uniq}@example.com`);
    // Both land in #general, named in the header and the sidebar.
    for (const p of [ada, bob]) {
      await p.page.locator('.channel-title', { hasText: 'general' }).waitFor();
      await p.page.locator('#sidebar .team-name').waitFor();
    }
  });

  await step(t, 'a channel is created, browsed and joined', async () => {
    await ada.page.getByRole('button', { name: 'Create channel' }).click();
    await ada.page.getByLabel('Name', { exact: true }).fill(channelName);
    await ada.page.getByRole('button', { name: 'Create', exact: true }).click();
    await ada.page.locator('.channel-title', { hasText: channelName }).waitFor();
    channel = await currentChannel(ada);
    assert.match(channel, /^C/);
    await sidebarLink(ada, channel).waitFor();

    await bob.page.getByRole('button', { name: 'Browse channels' }).click();
    await bob.page.getByRole('button', { name: `Join #${channelName}` }).click();
    await bob.page.locator('.channel-title', { hasText: channelName }).waitFor();
    await sidebarLink(bob, channel).waitFor();
    assert.equal(await currentChannel(bob), channel);
  });

  await step(t, 'messages arrive in real time, with formatting and mentions', async () => {
    await send(ada, 'Hello Bob, *bold* and _italic_ and `code` https://example.com/x');
    await msgText(bob, 'Hello Bob').waitFor();
    const received = msgText(bob, 'Hello Bob');
    assert.equal(await received.locator('strong').textContent(), 'bold');
    assert.equal(await received.locator('em').textContent(), 'italic');
    assert.equal(await received.locator('code').textContent(), 'code');
    assert.equal(await received.locator('a').getAttribute('href'), 'https://example.com/x');

    await send(bob, `Hi @${ada.handle}, welcome!\n\`\`\`\nconst x = 1;\n\`\`\``);
    const mention = msgText(ada, 'welcome!');
    await mention.waitFor();
    assert.equal(await mention.locator('.mention-self').textContent(), '@Ada Lovelace');
    assert.equal(await mention.locator('pre code').textContent(), 'const x = 1;');
    assert.ok(await log(ada).locator('.msg.mentions-me').count() >= 1);
    // Author names and avatar initials.
    await log(ada).locator('.msg-author', { hasText: 'Bob Babbage' }).waitFor();
    await log(ada).locator('.avatar', { hasText: 'BB' }).first().waitFor();
    // Shift+Enter is a new line, Enter sends.
    const box = ada.page.locator('#composer-input');
    await box.click();
    await box.pressSequentially('first line');
    await box.press('Shift+Enter');
    await box.pressSequentially('second line');
    await box.press('Enter');
    assert.equal(await msgText(bob, 'second line').evaluate((el) => el.textContent), 'first line\nsecond line');
    assert.equal(await box.inputValue(), '');
    // Typing: Bob starts a message, Ada sees it.
    await bob.page.locator('#composer-input').fill('');
    await bob.page.locator('#composer-input').pressSequentially('typing…', { delay: 30 });
    await ada.page.locator('.typing', { hasText: 'Bob Babbage is typing' }).waitFor();
    await bob.page.locator('#composer-input').fill('');
  });

  await step(t, 'unread badges and mention counts follow activity', async () => {
    await ada.page.locator('#sidebar a.conv', { hasText: 'general' }).click();
    await ada.page.locator('.channel-title', { hasText: 'general' }).waitFor();
    await send(bob, 'one for the badge');
    const badge = sidebarLink(ada, channel).locator('.badge');
    await badge.waitFor();
    assert.equal(await badge.textContent(), '1');
    await send(bob, `@${ada.handle} this one mentions you`);
    await sidebarLink(ada, channel).locator('.badge.badge-mention').waitFor();
    assert.equal(await sidebarLink(ada, channel).locator('.badge').getAttribute('data-unread'), '2');
    await sidebarLink(ada, channel).click();
    await msgText(ada, 'this one mentions you').waitFor();
    await sidebarLink(ada, channel).locator('.badge').waitFor({ state: 'detached' });
    // conversations.mark reached the server.
    let info;
    for (let i = 0; i < 50; i++) {
      info = await chatd.api(ada.token, 'conversations.info', { channel });
      if (!info.channel.unread_count && !info.channel.mention_count) break;
      await sleep(100);
    }
    assert.equal(info.channel.unread_count || 0, 0);
    assert.equal(info.channel.mention_count || 0, 0);
  });

  await step(t, 'a thread in the side panel, with a live reply count', async () => {
    await send(ada, 'Thread starter about the roadmap');
    const starter = log(bob).locator('.msg', { hasText: 'Thread starter about the roadmap' });
    await starter.waitFor();
    await hover(bob, starter);
    await starter.getByRole('button', { name: 'Reply in thread' }).click();
    const panel = bob.page.locator('#panel');
    await panel.locator('.thread-parent', { hasText: 'Thread starter' }).waitFor();
    await send(bob, 'First reply in the thread', '#thread-input');
    await panel.locator('.msg-text', { hasText: 'First reply in the thread' }).waitFor();
    // Ada sees the count on the parent, opens the thread, and answers.
    const link = log(ada).locator('.msg', { hasText: 'Thread starter' }).locator('.thread-link');
    await link.locator('.thread-count', { hasText: '1 reply' }).waitFor();
    await link.click();
    await ada.page.locator('#panel .msg-text', { hasText: 'First reply in the thread' }).waitFor();
    await send(ada, 'Second reply, from Ada', '#thread-input');
    await panel.locator('.msg-text', { hasText: 'Second reply, from Ada' }).waitFor();
    await log(bob).locator('.msg', { hasText: 'Thread starter' }).locator('.thread-count', { hasText: '2 replies' }).waitFor();
    // Replies stay out of the channel's own history.
    assert.equal(await msgText(ada, 'First reply in the thread').count(), 0);
    await shot(ada.page, '03-thread');
    await ada.page.locator('#panel').getByRole('button', { name: 'Close thread' }).click();
    await bob.page.locator('#panel').getByRole('button', { name: 'Close thread' }).click();
  });

  await step(t, 'reactions from the picker, seen by the other side', async () => {
    const target = log(bob).locator('.msg', { hasText: 'Hello Bob' });
    await hover(bob, target);
    await target.locator('.msg-actions').getByRole('button', { name: 'Add reaction' }).click();
    await bob.page.getByRole('dialog', { name: 'Add reaction' }).getByRole('button', { name: 'tada' }).click();
    const chip = log(ada).locator('.msg', { hasText: 'Hello Bob' }).locator('.reaction[data-reaction="tada"]');
    await chip.waitFor();
    assert.equal((await chip.locator('.reaction-count').textContent()).trim(), '1');
    assert.equal(await chip.getAttribute('aria-pressed'), 'false');
    // Ada adds hers by clicking the chip: 2, and pressed for her.
    await chip.click();
    await log(bob).locator('.msg', { hasText: 'Hello Bob' }).locator('.reaction[data-reaction="tada"] .reaction-count', { hasText: '2' }).waitFor();
    await log(ada).locator('.msg', { hasText: 'Hello Bob' }).locator('.reaction[data-reaction="tada"][aria-pressed="true"]').waitFor();
  });

  await step(t, 'a direct message, presence dots and the member list', async () => {
    await ada.page.getByRole('button', { name: 'New direct message' }).click();
    const dlg = ada.page.getByRole('dialog', { name: 'New message' });
    await dlg.getByLabel('Find people').fill('bob');
    await dlg.getByText('Bob Babbage').click();
    await dlg.getByRole('button', { name: 'Open conversation' }).click();
    await ada.page.locator('.channel-title', { hasText: 'Bob Babbage' }).waitFor();
    const dm = await currentChannel(ada);
    assert.match(dm, /^D/);
    // Bob is connected: his dot is green in Ada's sidebar and header.
    await ada.page.locator(`#sidebar [data-presence-user="${bob.id}"].presence-active`).waitFor();
    await ada.page.locator(`.channel-title [data-presence-user="${bob.id}"].presence-active`).waitFor();
    await send(ada, 'psst, a direct message');
    // Bob was not in it: it appears in his sidebar, counted as a mention.
    const item = sidebarLink(bob, dm);
    await item.locator('.badge.badge-mention', { hasText: '1' }).waitFor();
    assert.match(await item.getAttribute('aria-label'), /Direct message with Ada Lovelace, 1 unread/);
    await item.click();
    await msgText(bob, 'psst, a direct message').waitFor();
    await item.locator('.badge').waitFor({ state: 'detached' });
    // The member list of the channel, with presence.
    await sidebarLink(ada, channel).click();
    await ada.page.locator('.channel-title', { hasText: channelName }).waitFor();
    await ada.page.getByRole('button', { name: /^Members/ }).click();
    const members = ada.page.locator('#panel .member');
    await members.filter({ hasText: 'Bob Babbage' }).locator('.presence-active').waitFor();
    assert.equal(await members.count(), 2);
    await ada.page.locator('#panel').getByRole('button', { name: 'Close members' }).click();
    await sidebarLink(bob, channel).click();
    await bob.page.locator('.channel-title', { hasText: channelName }).waitFor();
  });

  await step(t, 'Up edits the last message; delete removes one', async () => {
    await send(ada, 'Tpyo in this message');
    await msgText(bob, 'Tpyo in this message').waitFor();
    const box = ada.page.locator('#composer-input');
    await box.click();
    await box.press('ArrowUp');
    const editor = log(ada).getByRole('textbox', { name: 'Edit message' });
    await editor.waitFor();
    await editor.press('Escape');
    await editor.waitFor({ state: 'detached' });
    assert.equal(await ada.page.evaluate(() => document.activeElement.id), 'composer-input');
    await box.press('ArrowUp');
    await editor.waitFor();
    assert.equal(await editor.inputValue(), 'Tpyo in this message');
    await editor.fill('Typo fixed in this message');
    await editor.press('Enter');
    const edited = log(bob).locator('.msg', { hasText: 'Typo fixed in this message' });
    await edited.locator('.msg-edited').waitFor();
    assert.equal(await msgText(bob, 'Tpyo').count(), 0);

    await send(ada, 'This message will be deleted');
    const doomed = log(ada).locator('.msg', { hasText: 'This message will be deleted' });
    await msgText(bob, 'This message will be deleted').waitFor();
    await hover(ada, doomed);
    await doomed.getByRole('button', { name: 'Delete message' }).click();
    await ada.page.getByRole('dialog', { name: 'Delete message' }).getByRole('button', { name: 'Delete' }).click();
    await msgText(bob, 'This message will be deleted').waitFor({ state: 'detached' });
    await msgText(ada, 'This message will be deleted').waitFor({ state: 'detached' });
  });

  await step(t, 'an image upload shows progress and a preview on both sides', async () => {
    const png = makePng(64, 48);
    const name = `chart-${uniq}.png`;
    await ada.page.locator('.main .composer input[type=file]').setInputFiles({ name, mimeType: 'image/png', buffer: png });
    await ada.page.locator('.main .upload progress').first().waitFor({ state: 'attached' }).catch(() => {});
    for (const p of [bob, ada]) {
      const img = log(p).locator(`img.file-image[alt="${name}"]`);
      await img.waitFor();
      await p.page.waitForFunction((n) => {
        const el = document.querySelector(`img.file-image[alt="${n}"]`);
        return el && el.complete && el.naturalWidth === 64 && el.naturalHeight === 48;
      }, name);
      const href = await log(p).locator('.msg', { has: p.page.locator(`img[alt="${name}"]`) }).getByRole('link', { name: `Download ${name}` }).getAttribute('href');
      const r = await fetch(new URL(href, chatd.base));
      assert.equal(r.status, 200);
      assert.deepEqual(Buffer.from(await r.arrayBuffer()), png);
    }
    await ada.page.locator('.main .upload').waitFor({ state: 'detached' });
    // Dropped on the conversation: any file, shown as a card to download.
    const notes = `notes-${uniq}.txt`;
    await ada.page.evaluate((n) => {
      const dt = new DataTransfer();
      dt.items.add(new File(['meeting notes\n'], n, { type: 'text/plain' }));
      const main = document.getElementById('main');
      for (const type of ['dragenter', 'dragover', 'drop']) {
        main.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
      }
    }, notes);
    const card = log(bob).locator('.file-card', { hasText: notes });
    await card.waitFor();
    const link = await card.getByRole('link', { name: `Download ${notes}` }).getAttribute('href');
    const r = await fetch(new URL(link, chatd.base));
    assert.equal(await r.text(), 'meeting notes\n');
    assert.match(r.headers.get('content-disposition') || '', /attachment/);
    await log(ada).evaluate((el) => { el.scrollTop = el.scrollHeight; });
    await ada.page.mouse.move(0, 0);
    await shot(ada.page, '02-channel');
  });

  await step(t, 'hostile markup stays text: nothing runs', async () => {
    general = (await chatd.api(ada.token, 'conversations.list', {})).channels.find((c) => c.is_general).id;
    for (const p of [ada, bob]) {
      await sidebarLink(p, general).click();
      await p.page.locator('.channel-title', { hasText: 'general' }).waitFor();
    }
    const before = await ada.page.evaluate(() => document.querySelectorAll('script').length);
    const payloads = [
      '<script>window.__pwned = "script"</script>',
      '<img src=x onerror="window.__pwned=\'img\'">',
      '<a href="javascript:window.__pwned=1">click</a> <svg onload="window.__pwned=2">',
    ];
    for (const text of payloads) await send(bob, text);
    // Straight through the API too, unescaped, as another client might.
    await chatd.api(bob.token, 'chat.postMessage', { channel: general, text: '<img src=x onerror=alert(1)> <javascript:alert(2)|click me> <script>alert(3)</script>' });
    await msgText(ada, '<script>window.__pwned = "script"</script>').waitFor();
    await msgText(ada, '<img src=x onerror="window.__pwned=\'img\'">').waitFor();
    await msgText(ada, 'click me').waitFor();
    await ada.page.waitForTimeout(500);
    for (const p of [ada, bob]) {
      assert.equal(await p.page.evaluate(() => window.__pwned), undefined, `${p.name}: injected code ran`);
      assert.deepEqual(p.dialogs, [], `${p.name}: a dialog opened`);
      assert.equal(await log(p).locator('img:not(.file-image), script, svg:not(.icon), iframe').count(), 0);
      assert.equal(await log(p).locator('a[href^="javascript:"]').count(), 0);
    }
    assert.equal(await ada.page.evaluate(() => document.querySelectorAll('script').length), before);
  });

  await step(t, 'app messages: blocks and attachments are drawn, hostile ones stay inert', async () => {
    const made = await chatd.api(ada.token, 'conversations.create', { name: `apps-${uniq}` });
    const id = made.channel.id;
    await chatd.api(bob.token, 'conversations.join', { channel: id });
    // Ada watches them arrive (the event stream); Bob opens them later (history).
    await ada.page.goto(`${chatd.base}/#/${id}`);
    await ada.page.locator('.channel-title', { hasText: `apps-${uniq}` }).waitFor();
    const plain = (text) => ({ type: 'plain_text', text });
    const md = (text) => ({ type: 'mrkdwn', text });
    await chatd.api(bob.token, 'chat.postMessage', {
      channel: id,
      text: 'hostile fallback',
      blocks: [
        { type: 'section', text: md('<img src=x onerror=alert(1)>') },
        { type: 'actions', elements: [{ type: 'button', text: plain('Sneaky'), url: 'javascript:alert(1)' }] },
        { type: 'image', image_url: 'javascript:alert(2)', alt_text: 'not an image' },
      ],
      attachments: [{ title: 'Sneaky title', title_link: 'javascript:alert(3)', image_url: 'data:image/png;base64,AAAA', text: 'hostile attachment' }],
    });
    await chatd.api(ada.token, 'chat.postMessage', {
      channel: id,
      text: 'fallback',
      blocks: [
        { type: 'header', text: plain('Deploy finished') },
        {
          type: 'section', block_id: 'summary', text: md('*Build 42* passed'),
          fields: [md('*Environment*\nproduction'), md('*Duration*\n4m 12s')],
          accessory: { type: 'button', text: plain('Details'), action_id: 'details', value: 'build-42' },
        },
        { type: 'divider' },
        { type: 'context', elements: [md('Requested by the release train')] },
        { type: 'image', image_url: 'https://example.invalid/chart.png', alt_text: 'Build chart' },
        {
          type: 'actions', block_id: 'decide', elements: [
            { type: 'button', text: plain('Approve'), style: 'primary', action_id: 'approve', value: 'yes' },
            { type: 'button', text: plain('Open runbook'), url: 'https://example.com/runbook' },
          ],
        },
        {
          type: 'rich_text', elements: [
            { type: 'rich_text_section', elements: [
              { type: 'text', text: 'Shipped by ' }, { type: 'user', user_id: bob.id },
              { type: 'text', text: ', ' }, { type: 'text', text: 'no rollback', style: { bold: true } },
            ] },
            { type: 'rich_text_list', style: 'bullet', elements: [
              { type: 'rich_text_section', elements: [{ type: 'text', text: 'migrations applied' }] },
            ] },
          ],
        },
      ],
      attachments: [{
        color: '#36a64f', pretext: 'pre', title: 'T', title_link: 'https://example.com/t', text: 'att text',
        fields: [{ title: 'F1', value: 'v1', short: true }], footer: 'foot',
      }],
    });

    const check = async (p) => {
      const msg = log(p).locator('.msg', { hasText: 'Deploy finished' });
      await msg.waitFor();
      await msg.getByRole('heading', { name: 'Deploy finished' }).waitFor();
      const shown = (await msg.innerText()).split('\n').map((s) => s.trim());
      for (const line of ['Build 42 passed', 'Environment', 'production', 'Duration', '4m 12s',
        'Requested by the release train', 'migrations applied', 'pre', 'att text', 'F1', 'v1']) {
        assert.ok(shown.includes(line), `${p.name}: "${line}" is shown`);
      }
      assert.ok(shown.some((s) => s.startsWith('foot')), `${p.name}: the footer is shown`);
      assert.ok(await msg.getByRole('separator').isVisible(), 'the divider');
      for (const name of ['Details', 'Approve']) assert.ok(await msg.getByRole('button', { name }).isVisible(), name);
      const runbook = msg.getByRole('link', { name: 'Open runbook' });
      assert.equal(await runbook.getAttribute('href'), 'https://example.com/runbook');
      assert.equal(await runbook.getAttribute('target'), '_blank');
      assert.match(await runbook.getAttribute('rel'), /noopener/);
      assert.equal(await msg.getByRole('link', { name: 'T', exact: true }).getAttribute('href'), 'https://example.com/t');
      assert.equal(await msg.getByRole('link', { name: /Build chart/ }).getAttribute('href'), 'https://example.invalid/chart.png');
      assert.equal(await msg.getByText('@Bob Babbage').count(), 1, 'the rich text mention');
      assert.equal(await msg.locator('strong', { hasText: 'no rollback' }).count(), 1);
      assert.ok(await msg.evaluate((el) => Array.from(el.querySelectorAll('*'))
        .some((n) => getComputedStyle(n).borderLeftColor === 'rgb(54, 166, 79)')), 'the attachment\'s colour bar');
      // The blocks are the message: its text is only the notification's.
      assert.ok(!shown.some((s) => s.includes('fallback')), `${p.name}: the fallback text is not shown`);

      const bad = log(p).locator('.msg', { hasText: 'hostile attachment' });
      await bad.getByText('<img src=x onerror=alert(1)>', { exact: true }).waitFor();
      assert.ok(await bad.getByRole('button', { name: 'Sneaky' }).isVisible(), 'the label stays');
      assert.equal(await bad.getByRole('link', { name: 'Sneaky' }).count(), 0);
      assert.ok(await bad.getByText('Sneaky title').isVisible());
      assert.equal(await log(p).locator('img[src="x"], img[src^="data:"], img[src^="javascript:" i], script').count(), 0);
      assert.equal(await log(p).locator('[href^="javascript:" i], [src^="javascript:" i]').count(), 0);
      assert.deepEqual(p.dialogs, [], `${p.name}: a dialog opened`);
    };
    await check(ada);
    await log(ada).locator('.msg', { hasText: 'Deploy finished' }).scrollIntoViewIfNeeded();
    await ada.page.mouse.move(0, 0);
    await shot(ada.page, '07-app-messages');

    await bob.page.goto(`${chatd.base}/#/${id}`);
    await check(bob);
    await bob.page.setViewportSize(PHONE);
    await bob.page.waitForTimeout(300);
    assert.ok(await log(bob).evaluate((el) => el.scrollWidth <= el.clientWidth), 'nothing wider than a phone');
    await log(bob).locator('.msg', { hasText: 'Deploy finished' }).scrollIntoViewIfNeeded();
    await shot(bob.page, '07-app-messages-phone');
    await bob.page.setViewportSize(DESKTOP);
    await bob.page.emulateMedia({ colorScheme: 'dark' });
    await log(bob).locator('.msg', { hasText: 'Deploy finished' }).scrollIntoViewIfNeeded();
    await shot(bob.page, '07-app-messages-dark');
    await bob.page.emulateMedia({ colorScheme: 'light' });

    for (const p of [ada, bob]) {
      await p.page.goto(`${chatd.base}/#/${general}`);
      await p.page.locator('.channel-title', { hasText: 'general' }).waitFor();
    }
  });

  await step(t, 'slash commands from the composer, and a click on an app\'s button', async () => {
    // The app's command URL: answers every command with its text.
    const heard = [];
    const app = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const f = new URLSearchParams(body);
        if (f.get('payload')) { // a click: the message is replaced through the response_url
          const p = JSON.parse(f.get('payload'));
          heard.push(`${p.type}:${p.actions[0].action_id}`);
          res.writeHead(200);
          res.end();
          fetch(p.response_url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ replace_original: true, text: `Approved by <@${p.user.id}>` }),
          }).catch(() => {});
          return;
        }
        heard.push(f.get('command'));
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(`deploying ${f.get('text')}`);
      });
    });
    await new Promise((r) => app.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${app.address().port}/cmd`;
      const made = await chatd.api(ada.token, 'apps.manifest.create', {
        manifest: {
          display_information: { name: 'Deployer' },
          features: { slash_commands: [{ command: '/deploy', url }] },
          oauth_config: { scopes: { bot: ['commands', 'chat:write', 'channels:join'] } },
          settings: { interactivity: { is_enabled: true, request_url: url } },
        },
      });
      await send(ada, '/deploy the docs');
      const answer = log(ada).locator('.msg', { hasText: 'deploying the docs' });
      await answer.waitFor();
      await answer.locator('.msg-ephemeral', { hasText: 'Only visible to you' }).waitFor();
      assert.deepEqual(heard, ['/deploy']);
      await send(ada, '/me waves');
      await msgText(bob, 'waves').waitFor();
      assert.equal(await log(bob).locator('.msg', { hasText: 'deploying the docs' }).count(), 0);

      // A button on the app's message: the app hears the click and replaces it.
      await chatd.api(made.bot_token, 'conversations.join', { channel: general });
      await chatd.api(made.bot_token, 'chat.postMessage', {
        channel: general,
        text: 'Ship it?',
        blocks: [{ type: 'actions', elements: [{ type: 'button', action_id: 'approve', value: 'go', text: { type: 'plain_text', text: 'Approve' } }] }],
      });
      await log(bob).locator('.msg button', { hasText: 'Approve' }).last().click();
      await msgText(ada, 'Approved by').waitFor();
      assert.equal(await log(ada).locator('.msg button', { hasText: 'Approve' }).count(), 0);
      assert.deepEqual(heard, ['/deploy', 'block_actions:approve']);
    } finally {
      app.close();
    }
  });

  await step(t, 'an app\'s modal: opened by a slash command, its errors, submitted, closed', async () => {
    // The app: /survey opens a modal; a submission of "bad" gets errors, any
    // other closes it and thanks in the channel; closing it is heard.
    const heard = [];
    let bot = null;
    const app = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', async () => {
        const f = new URLSearchParams(body);
        if (f.get('command') === '/survey') {
          heard.push('/survey');
          res.writeHead(200);
          res.end();
          await chatd.api(bot, 'views.open', {
            trigger_id: f.get('trigger_id'),
            view: {
              type: 'modal', callback_id: 'survey', private_metadata: f.get('channel_id'), notify_on_close: true,
              title: { type: 'plain_text', text: 'Survey' },
              submit: { type: 'plain_text', text: 'Send' },
              blocks: [
                { type: 'section', text: { type: 'mrkdwn', text: '*How was it?*' } },
                { type: 'input', block_id: 'q', label: { type: 'plain_text', text: 'Your answer' },
                  element: { type: 'plain_text_input', action_id: 'a' } },
                { type: 'actions', elements: [{ type: 'button', action_id: 'help', text: { type: 'plain_text', text: 'Help' } }] },
              ],
            },
          }).catch((e) => heard.push(`views.open failed: ${e}`));
          return;
        }
        const p = JSON.parse(f.get('payload') || '{}');
        heard.push(p.type);
        if (p.type === 'block_actions') { // Help: a view pushed on the survey
          res.writeHead(200);
          res.end();
          await chatd.api(bot, 'views.push', {
            trigger_id: p.trigger_id,
            view: { type: 'modal', title: { type: 'plain_text', text: 'Help' }, blocks: [
              { type: 'section', text: { type: 'plain_text', text: `So far: ${p.view.state.values.q?.a?.value ?? ''}` } }] },
          }).catch((e) => heard.push(`views.push failed: ${e}`));
          return;
        }
        if (p.type !== 'view_submission') {
          res.writeHead(200);
          res.end();
          return;
        }
        const answer = p.view.state.values.q.a.value;
        if (answer === 'bad') {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ response_action: 'errors', errors: { q: 'Say more' } }));
          return;
        }
        res.writeHead(200);
        res.end();
        chatd.api(bot, 'chat.postMessage', { channel: p.view.private_metadata, text: `Thanks: ${answer}` }).catch(() => {});
      });
    });
    await new Promise((r) => app.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${app.address().port}/slack`;
      const made = await chatd.api(ada.token, 'apps.manifest.create', {
        manifest: {
          display_information: { name: 'Surveyor' },
          features: { slash_commands: [{ command: '/survey', url }] },
          oauth_config: { scopes: { bot: ['commands', 'chat:write', 'channels:join'] } },
          settings: { interactivity: { is_enabled: true, request_url: url } },
        },
      });
      bot = made.bot_token;
      await chatd.api(bot, 'conversations.join', { channel: general });
      await send(ada, '/survey');
      const dialog = ada.page.getByRole('dialog', { name: 'Survey' });
      await dialog.waitFor();
      assert.ok(await dialog.getByText('How was it?').isVisible());
      const field = dialog.getByLabel('Your answer');
      // A button in the modal: the app pushes a view on it, with what the form holds.
      await field.fill('draft');
      await dialog.getByRole('button', { name: 'Help' }).click();
      const help = ada.page.getByRole('dialog', { name: 'Help' });
      await help.getByText('So far: draft').waitFor();
      await ada.page.keyboard.press('Escape');
      await help.waitFor({ state: 'detached' });
      assert.ok(await dialog.isVisible(), 'the survey stays under it');
      await field.fill('bad');
      await dialog.getByRole('button', { name: 'Send' }).click();
      await dialog.getByText('Say more').waitFor(); // the app's error, under the field
      await shot(ada.page, '08-app-modal-errors');
      await field.fill('great');
      await dialog.getByRole('button', { name: 'Send' }).click();
      await dialog.waitFor({ state: 'detached' });
      await msgText(bob, 'Thanks: great').waitFor();
      // Escape closes it, and the app, which asked, hears so.
      await send(ada, '/survey');
      await dialog.waitFor();
      await ada.page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      const deadline = Date.now() + 10000;
      while (!heard.includes('view_closed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(heard, ['/survey', 'block_actions', 'view_submission', 'view_submission', '/survey', 'view_closed']);
    } finally {
      app.close();
    }
  });

  await step(t, 'search finds a message and jumps to it', async () => {
    const word = `zebra${uniq}`;
    await chatd.api(bob.token, 'chat.postMessage', { channel: general, text: `The ${word} report is ready` });
    for (let i = 0; i < 40; i++) await chatd.api(bob.token, 'chat.postMessage', { channel: general, text: `filler message ${i}` });
    await msgText(ada, 'filler message 39').waitFor();
    await sidebarLink(ada, channel).click();
    await ada.page.locator('.channel-title', { hasText: channelName }).waitFor();
    await ada.page.locator('#search-input').fill(word);
    await ada.page.locator('#search-input').press('Enter');
    const hit = ada.page.locator('#panel .search-hit', { hasText: word });
    await hit.waitFor();
    await shot(ada.page, '04-search');
    await hit.getByRole('button', { name: /Jump to message/ }).click();
    await ada.page.locator('.channel-title', { hasText: 'general' }).waitFor();
    const target = log(ada).locator('.msg.flash', { hasText: word });
    await target.waitFor();
    assert.ok(await target.evaluate((el) => el === document.activeElement), 'the found message has focus');
    await ada.page.locator('#panel').getByRole('button', { name: 'Close search' }).click();
    await sidebarLink(ada, channel).click();
    await ada.page.locator('.channel-title', { hasText: channelName }).waitFor();
    await sidebarLink(bob, channel).click();
    await bob.page.locator('.channel-title', { hasText: channelName }).waitFor();
  });

  await step(t, 'older history loads as the view scrolls up', async () => {
    const hist = await chatd.api(ada.token, 'conversations.create', { name: `history-${uniq}` });
    const id = hist.channel.id;
    for (let i = 1; i <= 130; i++) {
      await chatd.api(ada.token, 'chat.postMessage', { channel: id, text: `history line ${String(i).padStart(3, '0')}` });
    }
    await ada.page.goto(`${chatd.base}/#/${id}`);
    await msgText(ada, 'history line 130').waitFor();
    assert.equal(await msgText(ada, 'history line 001').count(), 0);
    for (let i = 0; i < 10 && (await msgText(ada, 'history line 001').count()) === 0; i++) {
      await log(ada).evaluate((el) => { el.scrollTop = 0; });
      await ada.page.waitForTimeout(400);
    }
    await msgText(ada, 'history line 001').waitFor();
    await log(ada).locator('.beginning').waitFor();
    const lines = await log(ada).locator('.msg-text').allTextContents();
    const numbers = lines.map((s) => Number(/history line (\d+)/.exec(s)[1]));
    assert.deepEqual(numbers, Array.from({ length: 130 }, (_, i) => i + 1), 'every line once, in order');
    await ada.page.goto(`${chatd.base}/#/${channel}`);
    await msgText(ada, 'Thread starter about the roadmap').waitFor();
  });

  await step(t, 'a dropped connection resumes where it left off', async () => {
    await send(bob, 'before the drop');
    await msgText(ada, 'before the drop').waitFor();
    const history = [];
    ada.page.on('request', (r) => { if (r.url().includes('/api/conversations.history')) history.push(r.url()); });
    await ada.page.evaluate(() => window.__sockets.forEach((ws) => ws.close()));
    await chatd.api(bob.token, 'chat.postMessage', { channel, text: 'sent during the drop' });
    await msgText(ada, 'sent during the drop').waitFor();
    // Replayed by the stream from the last seq: no history refetch needed.
    assert.deepEqual(history, []);
    const urls = await ada.page.evaluate(() => window.__sockets.map((ws) => ws.url));
    assert.match(urls[urls.length - 1], /[?&]since=\d+&epoch=[0-9a-f]+/);
    assert.equal(await msgText(ada, 'sent during the drop').count(), 1);
  });

  await step(t, 'after a server restart the page shows what it missed, once, in order', async () => {
    await send(bob, 'before the restart');
    await msgText(ada, 'before the restart').waitFor();
    const stopped = await chatd.stop();
    assert.equal(stopped.code, 0, `chatd exited with ${JSON.stringify(stopped)}`);
    await ada.page.locator('.conn', { hasText: /reconnecting/i }).waitFor();
    await chatd.start();
    // Posted before the page has had a chance to reconnect: it was missed.
    await chatd.api(bob.token, 'chat.postMessage', { channel, text: 'missed while you were away 1' });
    await chatd.api(bob.token, 'chat.postMessage', { channel, text: 'missed while you were away 2' });
    await msgText(ada, 'missed while you were away 2').waitFor({ timeout: 30000 });
    await ada.page.locator('.conn:empty').waitFor({ state: 'attached' });
    await send(bob, 'live again after the restart');
    await msgText(ada, 'live again after the restart').waitFor();
    const texts = (await log(ada).locator('.msg-text').allTextContents()).map((s) => s.trim());
    const order = ['before the restart', 'missed while you were away 1', 'missed while you were away 2', 'live again after the restart'];
    const at = order.map((s) => texts.filter((x) => x === s).length);
    assert.deepEqual(at, [1, 1, 1, 1], 'each exactly once');
    const idx = order.map((s) => texts.indexOf(s));
    assert.deepEqual([...idx].sort((a, b) => a - b), idx, 'in order');
  });

  await step(t, 'the session survives a reload', async () => {
    await ada.page.reload();
    await ada.page.locator('.channel-title', { hasText: channelName }).waitFor();
    await msgText(ada, 'live again after the restart').waitFor();
  });

  await step(t, 'controls are named and reachable by keyboard', async () => {
    const unnamed = await ada.page.evaluate(() => Array.from(document.querySelectorAll('button, a[href], input, textarea'))
      .filter((el) => el.offsetParent !== null || el.getClientRects().length)
      .filter((el) => !(el.getAttribute('aria-label') || el.textContent.trim() || el.labels?.length || el.getAttribute('title') || el.getAttribute('placeholder')))
      .map((el) => el.outerHTML.slice(0, 80)));
    assert.deepEqual(unnamed, []);
    // Focus order: search, theme, sign out, then the sidebar; focus is visible.
    const focused = () => ada.page.evaluate(() => {
      const el = document.activeElement;
      return { label: el.getAttribute('aria-label') || el.textContent.trim(), outline: getComputedStyle(el).outlineStyle };
    });
    await ada.page.locator('#search-input').focus();
    const order = [];
    for (let i = 0; i < 4; i++) {
      await ada.page.keyboard.press('Tab');
      order.push(await focused());
    }
    assert.deepEqual(order.map((f) => f.label), ['Dark theme', 'Sign out', 'Browse channels', 'Create channel']);
    for (const f of order) assert.notEqual(f.outline, 'none', `${f.label} shows focus`);
    // The skip link goes to the composer.
    await ada.page.locator('.skip-link').focus();
    await ada.page.keyboard.press('Enter');
    assert.equal(await ada.page.evaluate(() => document.activeElement.id), 'composer-input');
  });

  await step(t, 'phone width: the sidebar collapses into a drawer', async () => {
    const phone = await person('phone', { viewport: PHONE });
    await phone.context.addInitScript((token) => localStorage.setItem('libchat.token', token), ada.token);
    await phone.page.goto(`${chatd.base}/#/${channel}`);
    await msgText(phone, 'live again after the restart').waitFor();
    assert.equal(await phone.page.locator('#sidebar').isVisible(), false);
    await shot(phone.page, '05-phone');
    await phone.page.getByRole('button', { name: 'Conversations' }).click();
    await phone.page.locator('#sidebar').waitFor({ state: 'visible' });
    await phone.page.waitForTimeout(300);
    await shot(phone.page, '05-phone-drawer');
    await phone.page.locator('#sidebar a.conv', { hasText: 'general' }).click();
    await phone.page.locator('.channel-title', { hasText: 'general' }).waitFor();
    await phone.page.locator('#sidebar').waitFor({ state: 'hidden' });
    await phone.context.close();
    delete people.phone;
  });

  await step(t, 'dark mode follows the system and the toggle', async () => {
    const dark = await person('dark', { colorScheme: 'dark' });
    await dark.context.addInitScript((token) => localStorage.setItem('libchat.token', token), bob.token);
    await dark.page.goto(`${chatd.base}/#/${channel}`);
    await msgText(dark, 'live again after the restart').waitFor();
    const bg = () => dark.page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const darkBg = await bg();
    assert.notEqual(darkBg, 'rgb(255, 255, 255)');
    await shot(dark.page, '06-dark');
    const toggle = dark.page.locator('.topbar .theme-toggle');
    assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
    await toggle.click();
    assert.equal(await bg(), 'rgb(255, 255, 255)');
    assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
    await dark.context.close();
    delete people.dark;
  });

  await step(t, 'sign out ends the session', async () => {
    await ada.page.getByRole('button', { name: 'Sign out' }).click();
    await ada.page.getByRole('tab', { name: 'Sign in' }).waitFor();
    await ada.page.reload();
    await ada.page.getByRole('tab', { name: 'Sign in' }).waitFor();
    assert.equal(await ada.page.evaluate(() => localStorage.getItem('libchat.token')), null);
    await assert.rejects(chatd.api(ada.token, 'auth.test'), /invalid_auth|token_revoked/);
  });

  await step(t, 'no uncaught errors in the pages', async () => {
    for (const p of Object.values(people)) assert.deepEqual(p.errors, [], `${p.name}: uncaught errors`);
  });
});
