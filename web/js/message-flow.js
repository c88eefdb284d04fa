// Messages in and out: posting, and merging new, changed and deleted
// messages into every loaded list and view (thread reply counts, unread
// counts).
// Its methods are mixed into the App (app.js) and share its state.

import { normalizeMessage, isReply, inChannelView } from './store.js';
import { cmpTs, uuid } from './dom.js';
import { fromEditable, mentionsUser } from './mrkdwn.js';

// "/name rest": a slash command (an app's, or /me), as Slack's clients read it.
const COMMAND = /^\/([a-z0-9_-]{1,31})(?:\s+([\s\S]*))?$/;

export const messageFlowMethods = {
  async send(channel, text, { threadTs = null, broadcast = false } = {}) {
    const cmd = threadTs ? null : COMMAND.exec(text.trim());
    if (cmd) return this.runCommand(channel, cmd[1], cmd[2] || '');
    const payload = { channel, text: fromEditable(text, this.mrkdwnCtx), client_msg_id: uuid() };
    if (threadTs) {
      payload.thread_ts = threadTs;
      if (broadcast) payload.reply_broadcast = true;
    }
    try {
      const r = await this.api.call('chat.postMessage', payload);
      this.ingest(normalizeMessage({ ...r.message, ts: r.ts || r.message.ts }, channel), { own: true });
      return true;
    } catch (e) {
      this.fail(e);
      return false;
    }
  },

  // /me posts an action; any other command goes to the app that has it,
  // whose answer arrives over the event stream.
  async runCommand(channel, name, rest) {
    try {
      if (name === 'me') {
        const r = await this.api.call('chat.meMessage', { channel, text: fromEditable(rest, this.mrkdwnCtx) });
        if (r.message) this.ingest(normalizeMessage({ ...r.message, ts: r.ts || r.message.ts }, channel), { own: true });
      } else {
        await this.api.call('chat.command', { channel, command: `/${name}`, text: rest });
      }
      return true;
    } catch (e) {
      this.fail(e);
      return false;
    }
  },

  // Every list and view a message shows in.
  *listsFor(channel) {
    const l = this.store.lists.get(channel);
    if (l) yield { list: l, view: this.current === channel ? this.view : null };
    for (const [key, tl] of this.store.threads) {
      if (!key.startsWith(`${channel}:`)) continue;
      const ts = key.slice(channel.length + 1);
      const open = this.panel && this.panel.kind === 'thread' && this.panel.channel === channel && this.panel.ts === ts;
      yield { list: tl, view: open ? this.panel.view : null };
    }
  },

  // A message that is new to us (posted, or from the event stream).
  ingest(m, { own = false, live = false } = {}) {
    const ch = m.channel;
    const self = this.store.self.id;
    if (!this.store.channels.has(ch)) {
      // A conversation we did not know (a new DM): count what arrives
      // until its details are in.
      if (live && !own && m.user !== self && inChannelView(m)) {
        const p = this.pendingUnread.get(ch) || { unread: 0, mentions: 0 };
        p.unread++;
        if (ch[0] === 'D' || mentionsUser(m.text, self)) p.mentions++;
        this.pendingUnread.set(ch, p);
      }
      this.discoverChannel(ch);
    }
    for (const f of m.files) if (f.name) this.store.files.set(f.id, f);
    let added = false;
    if (inChannelView(m)) {
      const list = this.store.lists.get(ch);
      if (list && list.loaded) {
        const res = list.upsert(m);
        added = res.kind === 'added';
        if (this.current === ch && this.view) this.view.apply(res, { own });
      }
    }
    if (isReply(m)) {
      const tl = this.store.threads.get(`${ch}:${m.thread_ts}`);
      if (tl && tl.loaded) {
        const res = tl.upsert(m);
        const open = this.panel && this.panel.kind === 'thread' && this.panel.channel === ch && this.panel.ts === m.thread_ts;
        if (open) this.panel.view.apply(res, { own });
      }
      // The parent's reply count, wherever the parent is shown.
      this.updateMessage(ch, m.thread_ts, (p) => {
        if (p.latest_reply && cmpTs(m.ts, p.latest_reply) <= 0) return null;
        const users = p.reply_users.includes(m.user) ? p.reply_users : [...p.reply_users, m.user];
        return { ...p, thread_ts: p.ts, reply_count: (p.reply_count || 0) + 1, latest_reply: m.ts, reply_users: users, reply_users_count: users.length };
      });
    }
    if (m.user && m.user !== self) this.clearTyping(ch, m.user);
    if (live && m.user !== self && inChannelView(m) && !own) {
      const c = this.store.channels.get(ch);
      const reading = this.current === ch && document.visibilityState === 'visible' && (!this.view || this.view.atBottom);
      if (reading) {
        this.markRead(ch);
      } else if (c && (added || !this.store.lists.get(ch) || !this.store.lists.get(ch).loaded)) {
        c.unread_count = (c.unread_count || 0) + 1;
        c.unread_count_display = (c.unread_count_display || 0) + 1;
        if (c.is_im || c.is_mpim || mentionsUser(m.text, self)) c.mention_count = (c.mention_count || 0) + 1;
        this.renderSidebar();
        if (this.current === ch && this.view) {
          // Read once the reader scrolls down.
          const once = () => {
            if (this.view && this.view.atBottom) {
              this.view.scroller.removeEventListener('scroll', once);
              this.markRead(ch);
            }
          };
          this.view.scroller.addEventListener('scroll', once, { passive: true });
        }
      }
    }
  },

  // Applies fn to a message wherever it is loaded; fn returns the new
  // message, or null for no change.
  updateMessage(channel, ts, fn) {
    for (const { list, view } of this.listsFor(channel)) {
      const m = list.get(ts);
      if (!m) continue;
      const next = fn(m);
      if (!next) continue;
      const res = list.upsert(next);
      if (view) view.apply(res);
    }
  },

  removeMessage(channel, ts, previous = null) {
    const key = `${channel}:${ts}`;
    if (this.deletedTs.has(key)) return;
    this.deletedTs.add(key);
    if (this.deletedTs.size > 500) this.deletedTs.delete(this.deletedTs.values().next().value);
    let removed = null;
    for (const { list, view } of this.listsFor(channel)) {
      const m = list.remove(ts);
      if (m) {
        removed = m;
        if (view) view.removed(ts);
      }
    }
    if (this.panel && this.panel.kind === 'thread' && this.panel.channel === channel && this.panel.ts === ts) {
      this.closePanel();
      this.toast('The thread\'s first message was deleted.', 'info');
    }
    removed = removed || previous;
    if (removed && isReply(removed)) {
      this.updateMessage(channel, removed.thread_ts, (p) => ({ ...p, reply_count: Math.max(0, (p.reply_count || 1) - 1) }));
    }
  },
};
