// What the client knows: users, conversations, and the messages loaded for
// each, kept sorted by ts and deduplicated by ts.

import { cmpTs } from './dom.js';

export function normalizeMessage(m, channel) {
  const out = { ...m };
  out.reactions = Array.isArray(m.reactions) ? m.reactions.map((r) => ({
    name: r.name, users: Array.isArray(r.users) ? [...r.users] : [], count: r.count ?? (r.users || []).length,
  })) : [];
  out.files = Array.isArray(m.files) ? m.files : [];
  out.reply_users = Array.isArray(m.reply_users) ? m.reply_users : [];
  out.reply_count = m.reply_count || 0;
  if (channel) out.channel = channel;
  return out;
}

// A reply is a message in a thread that is not its parent.
export function isReply(m) {
  return !!m.thread_ts && m.thread_ts !== m.ts;
}

// Whether a message shows in the channel itself (not only in its thread).
export function inChannelView(m) {
  return !isReply(m) || !!m.reply_broadcast;
}

export class MessageList {
  constructor() {
    this.items = [];
    this.byTs = new Map();
    this.cursor = '';       // for the next older page
    this.hasMore = true;    // older pages exist
    this.loaded = false;    // the newest page is in
    this.stale = false;     // missed events: catch up before trusting it
    this.loading = null;    // the promise of a load in flight
  }

  get size() {
    return this.items.length;
  }

  newest() {
    return this.items.length ? this.items[this.items.length - 1].ts : null;
  }

  oldest() {
    return this.items.length ? this.items[0].ts : null;
  }

  get(ts) {
    return this.byTs.get(ts) || null;
  }

  indexOf(ts) {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmpTs(this.items[mid].ts, ts) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // Adds or replaces; returns 'added' or 'updated' and where it is.
  upsert(m) {
    const old = this.byTs.get(m.ts);
    if (old) {
      const merged = mergeMessage(old, m);
      // The event for what we just posted, say: nothing to draw again.
      if (JSON.stringify(merged) === JSON.stringify(old)) return { kind: 'same', index: -1, message: old };
      const i = this.indexOf(m.ts);
      this.items[i] = merged;
      this.byTs.set(m.ts, merged);
      return { kind: 'updated', index: i, message: merged };
    }
    const i = this.indexOf(m.ts);
    this.items.splice(i, 0, m);
    this.byTs.set(m.ts, m);
    return { kind: 'added', index: i, message: m };
  }

  remove(ts) {
    if (!this.byTs.has(ts)) return null;
    const i = this.indexOf(ts);
    const [m] = this.items.splice(i, 1);
    this.byTs.delete(ts);
    return m;
  }

  clear() {
    this.items = [];
    this.byTs.clear();
    this.cursor = '';
    this.hasMore = true;
    this.loaded = false;
    this.stale = false;
  }
}

// Events carry file ids only; keep the details we already have.
function mergeMessage(old, m) {
  const merged = { ...old, ...m };
  if (Array.isArray(m.files) && Array.isArray(old.files)) {
    merged.files = m.files.map((f) => {
      if (f.name) return f;
      return old.files.find((o) => o.id === f.id) || f;
    });
  }
  if (!m.channel && old.channel) merged.channel = old.channel;
  if (m.reply_count === undefined) merged.reply_count = old.reply_count;
  return merged;
}

export class Store {
  constructor() {
    this.reset();
  }

  reset() {
    this.self = null;         // { id, team_id }
    this.team = null;         // { id, name }
    this.users = new Map();   // id -> user
    this.channels = new Map();// id -> conversation the user is in
    this.lists = new Map();   // channel id -> MessageList
    this.threads = new Map(); // "C:ts" -> MessageList of one thread
    this.presence = new Map();// user id -> 'active' | 'away'
    this.files = new Map();   // file id -> file
    this.typing = new Map();  // channel -> Map(user -> expiry ms)
    this.mpimNames = new Map();
    this.missingUsers = new Set(); // ids asked for and not found
  }

  list(channel) {
    let l = this.lists.get(channel);
    if (!l) {
      l = new MessageList();
      this.lists.set(channel, l);
    }
    return l;
  }

  thread(channel, ts) {
    const key = `${channel}:${ts}`;
    let l = this.threads.get(key);
    if (!l) {
      l = new MessageList();
      this.threads.set(key, l);
    }
    return l;
  }

  setUser(u) {
    if (u && u.id) this.users.set(u.id, u);
  }

  userName(id) {
    const u = this.users.get(id);
    if (!u) {
      // Someone who joined after we loaded the list: look them up.
      if (id && /^[UW][A-Z0-9]+$/.test(id) && this.onMissingUser) this.onMissingUser(id);
      return null;
    }
    const p = u.profile || {};
    return p.display_name || u.real_name || p.real_name || u.name || id;
  }

  userHandle(id) {
    const u = this.users.get(id);
    return u ? u.name || null : null;
  }

  userByHandle(handle) {
    for (const u of this.users.values()) {
      if (u.deleted) continue;
      if ((u.name || '').toLowerCase() === handle) return u.id;
    }
    for (const u of this.users.values()) {
      const dn = ((u.profile && u.profile.display_name) || '').toLowerCase();
      if (dn && dn === handle) return u.id;
    }
    return null;
  }

  setChannel(c) {
    const old = this.channels.get(c.id);
    const merged = { ...(old || {}), ...c };
    // info without the caller's counts keeps the ones we had
    if (old && c.unread_count_display === undefined && c.unread_count === undefined) {
      merged.unread_count_display = old.unread_count_display;
      merged.mention_count = old.mention_count;
    }
    this.channels.set(c.id, merged);
    return merged;
  }

  channelLabel(id) {
    const c = this.channels.get(id);
    if (!c) return null;
    if (c.is_im) return this.userName(c.user) || c.user || 'Direct message';
    if (c.is_mpim) return this.mpimNames.get(id) || c.name || 'Group message';
    return c.name || id;
  }

  channelName(id) {
    const c = this.channels.get(id);
    if (!c) return null;
    if (c.is_im || c.is_mpim) return this.channelLabel(id);
    return c.name;
  }

  // How the conversation is named where a # would go.
  channelTitle(id) {
    const c = this.channels.get(id);
    if (!c) return id;
    if (c.is_im || c.is_mpim) return this.channelLabel(id);
    return `#${c.name}`;
  }

  unread(id) {
    const c = this.channels.get(id);
    if (!c) return { unread: 0, mentions: 0 };
    return {
      unread: c.unread_count_display ?? c.unread_count ?? 0,
      mentions: c.mention_count || 0,
    };
  }
}
