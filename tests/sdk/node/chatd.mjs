// chatd for the SDK tests: started on a free loopback port with a temporary
// data directory (CHATD names the executable; ctest sets it), people signed up
// with a plain fetch, and stopped at the end (it must exit 0 on SIGTERM).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

export const START_TIMEOUT_MS = Number(process.env.CHAT_E2E_START_TIMEOUT ?? 60) * 1000;
export const STOP_TIMEOUT_MS = 30000;
export const TEST_TIMEOUT_MS = 120000;
export const PASSWORD = 'correct horse battery staple';

let uniq = 0;
export const unique = (prefix) => `${prefix}${process.pid}x${++uniq}`;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
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

// ------------------------------------------------------------- chatd ---

export class Chatd {
  // extraArgs: more chatd arguments ("--set", "key=value", ...)
  // With CHAT_SDK_BASE set (tests/sdk/distributed.py), the servers already
  // run there: start() waits for them, stop() leaves them to their starter.
  constructor(extraArgs = []) {
    this.extraArgs = extraArgs;
    this.external = process.env.CHAT_SDK_BASE || null;
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'libchat-sdk-node-'));
    this.logPath = process.env.CHAT_SDK_LOG || path.join(this.dataDir, 'chatd.log');
    this.proc = null;
    this.exited = null; // {code, signal} once the process is gone
    if (this.external) return;
    this.exe = process.env.CHATD;
    if (!this.exe) throw new Error('CHATD is not set: run through ctest, or set CHATD=/path/to/chatd');
    fs.accessSync(this.exe, fs.constants.X_OK);
  }

  async start() {
    if (this.external) {
      this.base = this.external;
      if (await this.waitReady()) return this;
      throw new Error(`nothing healthy at CHAT_SDK_BASE=${this.base}`);
    }
    let last = '';
    for (let attempt = 0; attempt < 5; attempt++) { // the port may be taken in between
      const port = await freePort();
      this.base = `http://127.0.0.1:${port}`;
      const log = fs.openSync(this.logPath, 'a');
      this.exited = null;
      this.proc = spawn(this.exe, [
        '--data', path.join(this.dataDir, 'data'),
        '--listen', this.base,
        // fast signups; no rate limits in the way of 250 posts
        '--set', 'argon2.m_cost_kib=64', '--set', 'argon2.t_cost=1',
        '--set', 'ratelimit.per_sec=1000000', '--set', 'ratelimit.burst=1000000',
        ...this.extraArgs,
      ], { stdio: ['ignore', log, log] });
      fs.closeSync(log);
      this.proc.on('exit', (code, signal) => { this.exited = { code, signal }; });
      if (await this.waitReady()) return this;
      last = this.logTail();
      if (this.exited === null) {
        await this.terminate();
        break;
      }
    }
    throw new Error(`chatd did not become ready on ${this.base}:\n${last}`);
  }

  async waitReady() {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.exited !== null) return false;
      try {
        const r = await fetch(`${this.base}/health`, { signal: AbortSignal.timeout(2000) });
        await r.arrayBuffer();
        if (r.status === 200) return true;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    return false;
  }

  async terminate() {
    if (this.exited === null) {
      const gone = once(this.proc, 'exit');
      this.proc.kill('SIGTERM');
      let timer;
      const late = new Promise((resolve) => { timer = setTimeout(resolve, STOP_TIMEOUT_MS, 'late'); });
      const first = await Promise.race([gone, late]);
      clearTimeout(timer);
      if (first === 'late') {
        this.proc.kill('SIGKILL');
        await gone;
        return null;
      }
    }
    return this.exited.code;
  }

  // [was it still running, exit code or null when it had to be killed]
  async stop() {
    if (this.external) return [await this.waitReady(), 0]; // its starter checks how it exits
    if (this.proc === null) return [false, null];
    const alive = this.exited === null;
    const code = await this.terminate();
    this.proc = null;
    return [alive, code];
  }

  logTail(n = 4000) {
    try {
      return fs.readFileSync(this.logPath, 'utf8').slice(-n);
    } catch {
      return '';
    }
  }

  async signup(prefix, realName) {
    const email = `${unique(prefix)}@example.com`;
    const r = await fetch(`${this.base}/api/auth.signup`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email, password: PASSWORD, real_name: realName }),
    });
    const j = await r.json();
    assert.equal(r.status, 200, JSON.stringify(j));
    assert.equal(j.ok, true, JSON.stringify(j));
    assert.ok(j.token && j.user_id && j.team_id, JSON.stringify(j));
    return j;
  }
}

