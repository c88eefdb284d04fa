// A conversation's history: the newest page, older pages as the view
// scrolls up, and catching up after missed events.
// Its methods are mixed into the App (app.js) and share its state.

import { normalizeMessage, inChannelView } from './store.js';
import { cmpTs } from './dom.js';

const PAGE = 50;

export const historyMethods = {
  addHistory(list, channel, messages) {
    for (const raw of messages) {
      const m = normalizeMessage(raw, channel);
      for (const f of m.files) if (f.name) this.store.files.set(f.id, f);
      list.upsert(m);
    }
  },

  async loadLatest(id) {
    const list = this.store.list(id);
    if (list.loading) return list.loading;
    list.loading = (async () => {
      const r = await this.api.call('conversations.history', { channel: id, limit: PAGE });
      this.addHistory(list, id, r.messages || []);
      list.cursor = (r.response_metadata && r.response_metadata.next_cursor) || '';
      list.hasMore = !!r.has_more && !!list.cursor;
      list.loaded = true;
      list.stale = false;
    })();
    try {
      await list.loading;
    } finally {
      list.loading = null;
    }
    return undefined;
  },

  async loadOlder(id) {
    const list = this.store.list(id);
    if (!list.loaded || !list.hasMore || list.loading) return list.loading;
    list.loading = (async () => {
      this.updateListHead(id);
      const r = await this.api.call('conversations.history', { channel: id, limit: PAGE, cursor: list.cursor });
      this.addHistory(list, id, r.messages || []);
      list.cursor = (r.response_metadata && r.response_metadata.next_cursor) || '';
      list.hasMore = !!r.has_more && !!list.cursor;
    })();
    try {
      await list.loading;
    } catch (e) {
      this.fail(e);
    } finally {
      list.loading = null;
    }
    if (this.current === id && this.view) {
      this.updateListHead(id);
      this.view.render();
    }
    return undefined;
  },

  async fillScreen(id) {
    for (let i = 0; i < 5; i++) {
      if (this.current !== id || !this.view) return;
      const s = this.view.scroller;
      const list = this.store.list(id);
      if (!list.hasMore || s.scrollHeight > s.clientHeight + 200) return;
      await this.loadOlder(id);
      this.view.scrollToBottom();
    }
  },

  // After missed events: fetch what is newer than what we have, then the
  // newest page again for edits, reactions and deletions.
  async catchUp(id) {
    const list = this.store.list(id);
    if (!list.loaded) {
      await this.loadLatest(id);
      return;
    }
    let newest = null;
    for (let i = list.items.length - 1; i >= 0; i--) {
      if (inChannelView(list.items[i])) { newest = list.items[i].ts; break; }
    }
    if (newest) {
      let cursor = '';
      for (let page = 0; page < 40; page++) {
        const r = await this.api.call('conversations.history', { channel: id, oldest: newest, limit: 200, ...(cursor ? { cursor } : {}) });
        this.addHistory(list, id, r.messages || []);
        cursor = r.response_metadata && r.response_metadata.next_cursor;
        if (!cursor || !r.has_more) break;
      }
    }
    const r = await this.api.call('conversations.history', { channel: id, limit: PAGE });
    const got = new Set((r.messages || []).map((m) => m.ts));
    if (got.size) {
      const oldest = (r.messages || []).reduce((a, m) => (cmpTs(m.ts, a) < 0 ? m.ts : a), r.messages[0].ts);
      for (const m of [...list.items]) {
        if (inChannelView(m) && !got.has(m.ts) && (cmpTs(m.ts, oldest) >= 0 || !r.has_more)) list.remove(m.ts);
      }
    } else {
      for (const m of [...list.items]) if (inChannelView(m)) list.remove(m.ts);
    }
    this.addHistory(list, id, r.messages || []);
    list.stale = false;
    if (this.current === id && this.view) this.view.render();
  },
};
