// The event stream: a WebSocket from rtm.connect that resumes where it left
// off. Every event carries the gateway's sequence number; after a drop the
// stream is reopened with ?since=<last seq>&epoch=<epoch> and the gateway
// replays what was missed, or answers {"type":"resync"} (or a new epoch after
// a restart), in which case the app refetches what it shows.

const PING_EVERY_MS = 20000;
const PONG_TIMEOUT_MS = 10000;
const MAX_BACKOFF_MS = 8000;

export class Rtm {
  constructor(api, { onEvent, onStatus, onSync, onAuthError }) {
    this.api = api;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onSync = onSync;          // ({ fresh, resync }) after each (re)connect
    this.onAuthError = onAuthError;
    this.ws = null;
    this.epoch = null;
    this.seq = null;
    this.helloSeq = null;
    this.attempt = 0;
    this.timer = 0;
    this.pingTimer = 0;
    this.pongTimer = 0;
    this.nextId = 1;
    this.stopped = true;
    this.status = 'offline';
    this.connecting = false;
    this._online = () => this.reconnectNow();
    this._visible = () => { if (document.visibilityState === 'visible') this.reconnectNow(); };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener('online', this._online);
    document.addEventListener('visibilitychange', this._visible);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this._online);
    document.removeEventListener('visibilitychange', this._visible);
    clearTimeout(this.timer);
    this.stopPing();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, 'bye');
    this.setStatus('offline');
  }

  setStatus(s) {
    if (this.status === s) return;
    this.status = s;
    this.onStatus(s);
  }

  send(obj) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify({ id: this.nextId++, ...obj }));
    return true;
  }

  // Slack sends presence changes only for the users a socket subscribes to
  // (presence_sub); the list is sent again on every (re)connect.
  subscribePresence(ids) {
    this.presenceIds = ids;
    this.send({ type: 'presence_sub', ids });
  }

  reconnectNow() {
    if (this.stopped || this.ws || this.connecting) return;
    clearTimeout(this.timer);
    this.attempt = 0;
    this.connect();
  }

  scheduleReconnect() {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.attempt);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.attempt = Math.min(this.attempt + 1, 10);
    this.setStatus('offline');
    this.timer = setTimeout(() => this.connect(), delay);
  }

  async connect() {
    if (this.stopped || this.ws || this.connecting) return;
    this.connecting = true;
    this.setStatus('connecting');
    let url;
    try {
      const r = await this.api.call('rtm.connect', {}, { retries: 0 });
      url = new URL(r.url);
    } catch (e) {
      this.connecting = false;
      if (e.code === 'invalid_auth' || e.code === 'not_authed' || e.code === 'token_revoked' ||
          e.code === 'token_expired' || e.code === 'account_inactive') {
        this.onAuthError(e.code);
        return;
      }
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) { this.connecting = false; return; }
    const resuming = this.epoch !== null && this.seq !== null;
    if (resuming) {
      url.searchParams.set('since', String(this.seq));
      url.searchParams.set('epoch', this.epoch);
    }
    let ws;
    try {
      ws = new WebSocket(url.href);
    } catch {
      this.connecting = false;
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.connecting = false;
    this.resuming = resuming;
    this.gotHello = false;
    ws.addEventListener('message', (ev) => {
      if (this.ws !== ws) return;
      let f;
      try { f = JSON.parse(ev.data); } catch { return; }
      this.frame(f);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.stopPing();
      this.scheduleReconnect();
    });
  }

  frame(f) {
    if (f.type === 'hello') {
      this.gotHello = true;
      this.attempt = 0;
      this.helloSeq = f.seq;
      const epochChanged = this.epoch !== null && this.epoch !== f.epoch;
      const fresh = this.epoch === null;
      this.epoch = f.epoch;
      if (fresh || epochChanged) this.seq = f.seq; // nothing will be replayed
      this.setStatus('online');
      this.startPing();
      if (this.presenceIds && this.presenceIds.length) this.send({ type: 'presence_sub', ids: this.presenceIds });
      // A restarted server has a new epoch: nothing can be replayed.
      this.onSync({ fresh, resync: epochChanged });
      return;
    }
    if (f.type === 'resync') {
      this.seq = this.helloSeq;
      this.onSync({ fresh: false, resync: true });
      return;
    }
    if (f.type === 'pong') {
      clearTimeout(this.pongTimer);
      return;
    }
    if (f.type === 'error') {
      const code = f.error && (f.error.code || f.error);
      if (code === 'invalid_auth' || code === 'token_revoked' || code === 'token_expired' ||
          code === 'not_authed' || code === 'account_inactive') {
        this.stop();
        this.onAuthError(code);
      }
      return;
    }
    if (f.reply_to !== undefined) return; // replies to what we sent
    if (typeof f.seq === 'number') {
      if (this.seq !== null && f.seq <= this.seq) return; // already seen
      this.seq = f.seq;
    }
    try {
      this.onEvent(f);
    } catch (e) {
      console.error('event handler failed', f.type, e);
    }
  }

  startPing() {
    this.stopPing();
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: 'ping' })) return;
      clearTimeout(this.pongTimer);
      this.pongTimer = setTimeout(() => {
        // No answer: the connection is dead even if the socket says not.
        const ws = this.ws;
        if (!ws) return;
        this.ws = null;
        this.stopPing();
        try { ws.close(); } catch { /* already closing */ }
        this.scheduleReconnect();
      }, PONG_TIMEOUT_MS);
    }, PING_EVERY_MS);
  }

  stopPing() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
  }
}
