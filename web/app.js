// libchat's web client: one page, plain ES modules, the public Web API and
// the event stream only. See web/README.md for how it is put together.
//
// This is the entry point. The App below holds the client's state (the API
// client, the store, the open conversation, its view and composer, the side
// panel) and wires the page's global events; each module in js/ adds the
// methods of one job to it, so they all share that state through `this`.

import { icon } from './js/icons.js';
import { Api, ApiError, explain, uploadBytes } from './js/api.js';
import { Store, normalizeMessage, isReply, inChannelView } from './js/store.js';
import { h, clear, $, $$, cmpTs, tsDate, formatWhen, formatSize, uuid, announce } from './js/dom.js';
import { renderMrkdwn, toEditable, fromEditable, mentionsUser } from './js/mrkdwn.js';
import { MessageView, avatar, presenceDot } from './js/messages.js';
import { Composer, createEditor } from './js/composer.js';
import { modal, confirmDialog } from './js/dialogs.js';
import { PICKER, emojiChar } from './js/emoji.js';
import { themeMethods, DARK } from './js/theme.js';
import { toastMethods } from './js/toasts.js';
import { authMethods } from './js/auth.js';
import { sessionMethods } from './js/session.js';
import { shellMethods, PHONE } from './js/shell.js';
import { sidebarMethods } from './js/sidebar.js';
import { routerMethods, LAST_KEY } from './js/router.js';

const PAGE = 50;

class App {
  constructor() {
    this.api = new Api();
    this.store = new Store();
    this.drafts = new Map();
    this.rtm = null;
    this.current = null;
    this.view = null;
    this.composer = null;
    this.panel = null;
    this.fileLoads = new Map();
    this.presenceLoads = new Set();
    this.markTimers = new Map();
    this.syncing = null;
    this.syncAgain = false;
    this.connected = false;
    this.everConnected = false;
    this.mrkdwnCtx = {
      selfId: null,
      userName: (id) => this.store.userName(id),
      userHandle: (id) => this.store.userHandle(id),
      userByHandle: (handle) => this.store.userByHandle(handle),
      channelName: (id) => this.store.channelName(id),
    };
    this.api.onAuthLost = () => this.endSession('Your session has ended. Please sign in again.');
    this.userFetch = new Set();
    this.pendingUnread = new Map();
    this.deletedTs = new Set();
    this.userFetchTimer = 0;
    this.root = document.getElementById('root');
    this.applyTheme();
    DARK.addEventListener('change', () => this.applyTheme());
    window.addEventListener('hashchange', () => this.route());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.current) this.markRead(this.current);
    });
    window.addEventListener('focus', () => { if (this.current) this.markRead(this.current); });
    document.addEventListener('keydown', (e) => this.globalKey(e));
    setInterval(() => this.expireTyping(), 1000);
  }

  selfUser() {
    return this.store.self ? this.store.users.get(this.store.self.id) : null;
  }

  // ------------------------------------------------------- conversation ---

  async openChannel(id) {
    if (this.current === id && this.view) return;
    const c = this.store.channels.get(id);
    if (!c) return;
    this.current = id;
    try { localStorage.setItem(LAST_KEY, id); } catch { /* none */ }
    if (this.view) this.view.destroy();
    if (this.editingFor) this.editingFor = null;
    const focusComposer = !this.sidebar.contains(document.activeElement) || !PHONE.matches;

    clear(this.main);
    const header = h('header', { class: 'channel-header' });
    const scroller = h('div', {
      class: 'scroller', role: 'log', tabindex: '0', 'aria-live': 'polite', 'aria-relevant': 'additions',
      'aria-label': `Messages in ${this.store.channelTitle(id)}`,
    });
    this.typingEl = h('div', { class: 'typing', 'aria-live': 'polite' });
    this.composer = new Composer(this, {
      channel: id, id: 'composer-input',
      label: `Message ${this.store.channelTitle(id)}`,
      placeholder: `Message ${this.store.channelTitle(id)}`,
    });
    const wrap = h('div', { class: 'scroll-wrap' }, scroller);
    this.main.append(header, wrap, this.typingEl, this.composer.el);
    this.renderHeader();
    const list = this.store.list(id);
    this.view = new MessageView(this, {
      mode: 'channel', channel: id, list, scroller,
      onScrollTop: () => this.loadOlder(id),
    });
    this.renderSidebar();
    this.renderTyping();
    if (focusComposer) this.composer.focus();
    if (!list.loaded) {
      this.view.setHead(h('div', { class: 'loading' }, 'Loading messages…'));
      try {
        await this.loadLatest(id);
      } catch (e) {
        this.fail(e);
      }
    } else if (list.stale) {
      try {
        await this.catchUp(id);
      } catch (e) {
        if (!(e instanceof ApiError && e.isNetwork)) this.fail(e);
      }
    }
    if (this.current !== id) return;
    this.updateListHead(id);
    this.view.render({ keep: false });
    this.view.scrollToBottom();
    this.markRead(id, true);
    // A short list cannot scroll: fetch older until it can, or there is no more.
    this.fillScreen(id);
    if (this.panel && this.panel.kind === 'members') this.showMembers();
  }

  renderHeader() {
    const id = this.current;
    const c = this.store.channels.get(id);
    if (!c) return;
    const header = $('.channel-header', this.main);
    if (!header) return;
    clear(header);
    const title = h('h1', { class: 'channel-title' });
    if (c.is_im) title.append(presenceDot(this, c.user), ' ', this.store.channelLabel(id));
    else if (c.is_mpim) title.append(this.store.channelLabel(id));
    else title.append(h('span', { class: 'conv-icon', 'aria-hidden': 'true' }, icon(c.is_private ? 'lock' : 'hash', { size: 17 })), c.name);
    const topic = c.topic && c.topic.value ? c.topic.value : '';
    const topicBtn = h('button', {
      type: 'button', class: `topic${topic ? '' : ' muted'}`, title: topic ? 'Edit topic' : 'Add a topic',
      'aria-label': topic ? `Topic: ${topic}. Edit topic` : 'Add a topic', onclick: () => this.editTopic(),
    });
    if (topic) topicBtn.append(renderMrkdwn(topic, this.mrkdwnCtx));
    else topicBtn.textContent = c.is_im ? '' : 'Add a topic';
    const members = h('button', {
      type: 'button', class: 'btn btn-sm members-btn', 'aria-label': `Members: ${c.num_members || ''}`.trim(),
      'aria-expanded': this.panel && this.panel.kind === 'members' ? 'true' : 'false',
      'aria-controls': 'panel',
      onclick: () => (this.panel && this.panel.kind === 'members' ? this.closePanel() : this.showMembers()),
    }, icon('users', { size: 16 }), String(c.num_members || ''));
    const actions = h('div', { class: 'header-actions' }, members);
    if (!c.is_im && !c.is_mpim && !c.is_general) {
      actions.append(h('button', {
        type: 'button', class: 'btn btn-sm', onclick: () => this.leaveChannel(id),
      }, 'Leave'));
    }
    header.append(h('div', { class: 'channel-heading' }, title, c.is_im ? null : topicBtn), actions);
  }

  updateListHead(id) {
    if (!this.view || this.current !== id) return;
    const list = this.store.list(id);
    if (list.hasMore) {
      this.view.setHead(h('div', { class: 'loading' }, list.loading ? 'Loading older messages…' : ''));
      return;
    }
    const c = this.store.channels.get(id);
    const title = this.store.channelTitle(id);
    this.view.setHead(h('div', { class: 'beginning' },
      h('h2', null, c && (c.is_im || c.is_mpim) ? `This is the beginning of your conversation with ${title}` : `This is the very beginning of ${title}`),
      c && c.purpose && c.purpose.value ? h('p', { class: 'muted' }, c.purpose.value) : null));
  }

  addHistory(list, channel, messages) {
    for (const raw of messages) {
      const m = normalizeMessage(raw, channel);
      for (const f of m.files) if (f.name) this.store.files.set(f.id, f);
      list.upsert(m);
    }
  }

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
  }

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
  }

  async fillScreen(id) {
    for (let i = 0; i < 5; i++) {
      if (this.current !== id || !this.view) return;
      const s = this.view.scroller;
      const list = this.store.list(id);
      if (!list.hasMore || s.scrollHeight > s.clientHeight + 200) return;
      await this.loadOlder(id);
      this.view.scrollToBottom();
    }
  }

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
  }

  markRead(id, force = false) {
    if (id !== this.current || document.visibilityState !== 'visible') return;
    const c = this.store.channels.get(id);
    const list = this.store.lists.get(id);
    if (!c || !list || !list.loaded) return;
    let newest = null;
    for (let i = list.items.length - 1; i >= 0; i--) {
      if (inChannelView(list.items[i])) { newest = list.items[i].ts; break; }
    }
    const { unread, mentions } = this.store.unread(id);
    if (!newest) return;
    if (!force && !unread && !mentions && c.last_read && cmpTs(c.last_read, newest) >= 0) return;
    if (unread || mentions) {
      c.unread_count = 0;
      c.unread_count_display = 0;
      c.mention_count = 0;
      this.renderSidebar();
    }
    clearTimeout(this.markTimers.get(id));
    this.markTimers.set(id, setTimeout(async () => {
      if (c.last_read && cmpTs(c.last_read, newest) >= 0 && !force) return;
      try {
        await this.api.call('conversations.mark', { channel: id, ts: newest });
        c.last_read = newest;
      } catch { /* next time */ }
    }, force ? 50 : 400));
  }

  // --------------------------------------------------------- messages ---

  async send(channel, text, { threadTs = null, broadcast = false } = {}) {
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
  }

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
  }

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
  }

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
  }

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
  }

  editLast(channel, threadTs) {
    const list = threadTs ? this.store.threads.get(`${channel}:${threadTs}`) : this.store.lists.get(channel);
    if (!list) return false;
    const self = this.store.self.id;
    for (let i = list.items.length - 1; i >= 0; i--) {
      const m = list.items[i];
      if (m.user !== self || (m.subtype && m.subtype !== 'thread_broadcast' && m.subtype !== 'file_share')) continue;
      if (!threadTs && !inChannelView(m)) continue;
      if (threadTs && m.ts === threadTs && list.items.length > 1) continue;
      this.startEdit(m, !!threadTs);
      return true;
    }
    return false;
  }

  startEdit(m, inThread) {
    const view = inThread ? this.panel && this.panel.view : this.view;
    if (!view) return;
    if (view.editor) this.endEdit(view);
    const composer = inThread ? this.panel.composer : this.composer;
    const editor = createEditor(this, toEditable(m.text, this.mrkdwnCtx), {
      onSave: async (text) => {
        if (!text.trim()) {
          this.endEdit(view);
          this.deleteMessage(m);
          return;
        }
        try {
          const r = await this.api.call('chat.update', { channel: m.channel, ts: m.ts, text: fromEditable(text, this.mrkdwnCtx) });
          this.endEdit(view);
          this.updateMessage(m.channel, m.ts, (old) => ({ ...old, ...(r.message || {}), text: r.text ?? (r.message && r.message.text), edited: (r.message && r.message.edited) || old.edited || { user: this.store.self.id, ts: String(Date.now() / 1000) } }));
          if (composer) composer.focus();
        } catch (e) {
          this.fail(e);
        }
      },
      onCancel: () => {
        this.endEdit(view);
        if (composer) composer.focus();
      },
    });
    view.editor = { ts: m.ts, el: editor };
    const current = view.list.get(m.ts);
    view.apply({ kind: 'updated', message: current || m });
    const node = view.nodes.get(m.ts);
    if (node) node.scrollIntoView({ block: 'nearest' });
    editor.focusEnd();
  }

  endEdit(view) {
    if (!view.editor) return;
    const { ts } = view.editor;
    view.editor = null;
    const m = view.list.get(ts);
    if (m) view.apply({ kind: 'updated', message: m });
  }

  async deleteMessage(m) {
    const ok = await confirmDialog({
      title: 'Delete message',
      text: 'Delete this message? This cannot be undone.',
      confirm: 'Delete',
      danger: true,
    });
    if (!ok) return;
    try {
      await this.api.call('chat.delete', { channel: m.channel, ts: m.ts });
      this.removeMessage(m.channel, m.ts);
      announce('Message deleted');
    } catch (e) {
      this.fail(e);
    }
  }

  // ---------------------------------------------------------- reactions ---

  applyReaction(channel, ts, name, user, added) {
    this.updateMessage(channel, ts, (m) => {
      const reactions = m.reactions.map((r) => ({ ...r, users: [...r.users] }));
      let r = reactions.find((x) => x.name === name);
      if (added) {
        if (r && r.users.includes(user)) return null;
        if (!r) {
          r = { name, users: [], count: 0 };
          reactions.push(r);
        }
        r.users.push(user);
        r.count = r.users.length;
      } else {
        if (!r || !r.users.includes(user)) return null;
        r.users = r.users.filter((u) => u !== user);
        r.count = r.users.length;
      }
      return { ...m, reactions: reactions.filter((x) => x.count > 0) };
    });
  }

  async toggleReaction(m, name) {
    const self = this.store.self.id;
    const current = (this.store.lists.get(m.channel) && this.store.lists.get(m.channel).get(m.ts)) || m;
    const r = (current.reactions || []).find((x) => x.name === name);
    const mine = !!(r && r.users.includes(self));
    try {
      await this.api.call(mine ? 'reactions.remove' : 'reactions.add', { channel: m.channel, timestamp: m.ts, name });
      this.applyReaction(m.channel, m.ts, name, self, !mine);
    } catch (e) {
      if (e.code === 'already_reacted') this.applyReaction(m.channel, m.ts, name, self, true);
      else if (e.code === 'no_reaction') this.applyReaction(m.channel, m.ts, name, self, false);
      else this.fail(e);
    }
  }

  pickReaction(m, anchor) {
    this.closePicker();
    const grid = h('div', { class: 'picker-grid', role: 'group', 'aria-label': 'Emoji' });
    const buttons = PICKER.map((name) => h('button', {
      type: 'button', class: 'picker-item', 'aria-label': name.replace(/_/g, ' '), title: `:${name}:`,
      onclick: () => {
        this.closePicker();
        this.toggleReaction(m, name);
      },
    }, h('span', { 'aria-hidden': 'true' }, emojiChar(name) || name)));
    grid.append(...buttons);
    const picker = h('div', { class: 'picker', role: 'dialog', 'aria-label': 'Add reaction' }, grid);
    document.body.append(picker);
    const r = anchor.getBoundingClientRect();
    const pw = picker.offsetWidth;
    const ph = picker.offsetHeight;
    let left = Math.min(window.innerWidth - pw - 8, Math.max(8, r.right - pw));
    let top = r.top - ph - 6;
    if (top < 8) top = Math.min(window.innerHeight - ph - 8, r.bottom + 6);
    if (left < 8) left = 8;
    picker.style.left = `${left}px`;
    picker.style.top = `${top}px`;
    const cols = 8;
    grid.addEventListener('keydown', (e) => {
      const i = buttons.indexOf(document.activeElement);
      if (i < 0) return;
      let j = null;
      if (e.key === 'ArrowRight') j = Math.min(buttons.length - 1, i + 1);
      if (e.key === 'ArrowLeft') j = Math.max(0, i - 1);
      if (e.key === 'ArrowDown') j = Math.min(buttons.length - 1, i + cols);
      if (e.key === 'ArrowUp') j = Math.max(0, i - cols);
      if (e.key === 'Home') j = 0;
      if (e.key === 'End') j = buttons.length - 1;
      if (e.key === 'Tab') { e.preventDefault(); j = e.shiftKey ? Math.max(0, i - 1) : Math.min(buttons.length - 1, i + 1); }
      if (j !== null) {
        e.preventDefault();
        buttons[j].focus();
      }
    });
    const outside = (e) => {
      if (!picker.contains(e.target) && e.target !== anchor && !anchor.contains(e.target)) this.closePicker(false);
    };
    setTimeout(() => document.addEventListener('mousedown', outside), 0);
    this.picker = { el: picker, anchor, outside };
    buttons[0].focus();
  }

  closePicker(refocus = true) {
    if (!this.picker) return;
    const { el, anchor, outside } = this.picker;
    this.picker = null;
    document.removeEventListener('mousedown', outside);
    el.remove();
    if (refocus && anchor.isConnected) anchor.focus();
  }

  // -------------------------------------------------------------- files ---

  async loadFile(id) {
    if (this.fileLoads.has(id) || this.store.files.has(id)) return;
    this.fileLoads.set(id, true);
    try {
      const r = await this.api.call('files.info', { file: id });
      this.store.files.set(id, r.file);
    } catch (e) {
      this.store.files.set(id, { id, deleted: true, mode: 'tombstone' });
    }
    this.fileLoads.delete(id);
    this.refreshFile(id);
  }

  refreshFile(id) {
    const views = [this.view, this.panel && this.panel.view].filter(Boolean);
    for (const view of views) {
      for (const m of view.list.items) {
        if (m.files.some((f) => f.id === id)) {
          const file = this.store.files.get(id);
          const files = m.files.map((f) => (f.id === id && file ? file : f));
          view.apply(view.list.upsert({ ...m, files }));
        }
      }
    }
  }

  onImageLoad(img) {
    for (const view of [this.view, this.panel && this.panel.view]) {
      if (view && view.scroller.contains(img) && view.atBottom) view.scrollToBottom();
    }
  }

  setupDrop(zone, target) {
    let depth = 0;
    const overlay = h('div', { class: 'drop-overlay', hidden: true }, h('div', null, 'Drop files to upload'));
    zone.append(overlay);
    const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
    zone.addEventListener('dragenter', (e) => {
      if (!hasFiles(e) || !target()) return;
      e.preventDefault();
      depth++;
      const t = target();
      overlay.firstChild.textContent = `Drop files to upload to ${this.store.channelTitle(t.channel)}`;
      if (!overlay.isConnected) zone.append(overlay);
      overlay.hidden = false;
    });
    zone.addEventListener('dragover', (e) => {
      if (!hasFiles(e) || !target()) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    });
    zone.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) overlay.hidden = true;
    });
    zone.addEventListener('drop', (e) => {
      depth = 0;
      overlay.hidden = true;
      const t = target();
      if (!hasFiles(e) || !t) return;
      e.preventDefault();
      const files = Array.from(e.dataTransfer.files || []);
      if (files.length) this.uploadFiles(files, t.channel, t.threadTs, t.box);
    });
  }

  uploadFiles(files, channel, threadTs, box) {
    for (const file of files) this.uploadOne(file, channel, threadTs, box);
  }

  async uploadOne(file, channel, threadTs, box) {
    const bar = h('progress', { max: '100', value: '0', 'aria-label': `Uploading ${file.name}` });
    const pct = h('span', { class: 'upload-pct' }, '0%');
    let xfer = null;
    let cancelled = false;
    const cancel = h('button', {
      type: 'button', class: 'icon-btn', 'aria-label': `Cancel upload of ${file.name}`,
      onclick: () => { cancelled = true; if (xfer) xfer.abort(); item.remove(); },
    }, icon('close', { size: 14 }));
    const item = h('div', { class: 'upload', dataset: { file: file.name } },
      h('span', { class: 'upload-name' }, file.name),
      h('span', { class: 'muted small' }, formatSize(file.size)), bar, pct, cancel);
    if (box) box.append(item);
    try {
      const r = await this.api.call('files.getUploadURLExternal', { filename: file.name, length: file.size });
      if (cancelled) return;
      const url = this.api.local(r.upload_url);
      xfer = uploadBytes(url.href, file, (loaded, total) => {
        const p = total ? Math.round((loaded / total) * 100) : 100;
        bar.value = p;
        pct.textContent = `${p}%`;
      });
      await xfer;
      if (cancelled) return;
      pct.textContent = 'Sharing…';
      const args = { files: [{ id: r.file_id, title: file.name }], channel_id: channel };
      if (threadTs) args.thread_ts = threadTs;
      await this.api.call('files.completeUploadExternal', args);
      item.classList.add('done');
      pct.textContent = 'Done';
      announce(`${file.name} uploaded`);
      setTimeout(() => item.remove(), 1200);
      if (!this.connected) this.catchUp(channel).catch(() => {});
    } catch (e) {
      if (cancelled || e.code === 'cancelled') return;
      item.classList.add('failed');
      pct.textContent = 'Failed';
      this.toast(`${file.name}: ${explain(e)}`);
      setTimeout(() => item.remove(), 5000);
    }
  }

  // -------------------------------------------------------------- panel ---

  openPanel(kind, label) {
    if (this.panel && this.panel.view) this.panel.view.destroy();
    this.panel = { kind };
    clear(this.panelEl);
    this.panelEl.hidden = false;
    this.panelEl.setAttribute('aria-label', label);
    this.appEl.classList.add('has-panel');
    this.syncNav();
    this.renderHeaderState();
    return this.panel;
  }

  closePanel() {
    if (!this.panel) return;
    const kind = this.panel.kind;
    if (this.panel.view) this.panel.view.destroy();
    this.panel = null;
    clear(this.panelEl);
    this.panelEl.hidden = true;
    this.appEl.classList.remove('has-panel');
    this.syncNav();
    this.renderHeaderState();
    if (kind === 'search') this.searchInput.focus();
    else if (this.composer) this.composer.focus();
  }

  renderHeaderState() {
    const b = $('.members-btn', this.main);
    if (b) b.setAttribute('aria-expanded', this.panel && this.panel.kind === 'members' ? 'true' : 'false');
  }

  panelHead(title, sub) {
    return h('header', { class: 'panel-head' },
      h('div', null, h('h2', { id: 'panel-title' }, title), sub ? h('div', { class: 'muted small' }, sub) : null),
      h('button', {
        type: 'button', class: 'icon-btn', 'aria-label': `Close ${title.toLowerCase()}`,
        onclick: () => this.closePanel(),
      }, icon('close')));
  }

  async openThread(channel, ts) {
    if (this.panel && this.panel.kind === 'thread' && this.panel.channel === channel && this.panel.ts === ts) {
      this.panel.composer.focus();
      return;
    }
    const p = this.openPanel('thread', 'Thread');
    p.channel = channel;
    p.ts = ts;
    const scroller = h('div', { class: 'scroller', role: 'log', tabindex: '0', 'aria-label': 'Thread messages' });
    p.composer = new Composer(this, {
      channel, threadTs: ts, id: 'thread-input', label: 'Reply in thread', placeholder: 'Reply…',
    });
    this.panelEl.append(this.panelHead('Thread', this.store.channelTitle(channel)),
      h('div', { class: 'scroll-wrap' }, scroller), p.composer.el);
    const list = this.store.thread(channel, ts);
    p.view = new MessageView(this, { mode: 'thread', channel, threadTs: ts, list, scroller });
    p.composer.focus();
    try {
      await this.loadThread(channel, ts);
    } catch (e) {
      this.fail(e);
    }
    if (this.panel !== p) return;
    p.view.render({ keep: false });
    p.view.scrollToBottom();
  }

  async loadThread(channel, ts) {
    const list = this.store.thread(channel, ts);
    const msgs = await this.api.all('conversations.replies', { channel, ts }, 'messages', { limit: 200 });
    list.clear();
    this.addHistory(list, channel, msgs);
    list.loaded = true;
    list.hasMore = false;
    const parent = list.get(ts);
    if (parent) {
      // what the thread says is the truth about the parent's count
      this.updateMessage(channel, ts, (p) => (p === parent ? null : {
        ...p, reply_count: parent.reply_count, latest_reply: parent.latest_reply, reply_users: parent.reply_users,
      }));
    }
  }

  async showMembers() {
    const id = this.current;
    if (!id) return;
    const p = this.openPanel('members', 'Members');
    p.channel = id;
    const list = h('ul', { class: 'member-list', 'aria-labelledby': 'panel-title' });
    this.panelEl.append(this.panelHead('Members', this.store.channelTitle(id)), h('div', { class: 'panel-body' }, list));
    list.append(h('li', { class: 'muted' }, 'Loading…'));
    let members = [];
    try {
      members = await this.api.all('conversations.members', { channel: id }, 'members');
    } catch (e) {
      this.fail(e);
    }
    if (this.panel !== p) return;
    await this.loadPresence(members);
    if (this.panel !== p) return;
    members.sort((a, b) => (this.store.userName(a) || a).localeCompare(this.store.userName(b) || b));
    clear(list);
    for (const u of members) {
      const user = this.store.users.get(u);
      list.append(h('li', { class: 'member' },
        avatar(this, u, 'sm'),
        presenceDot(this, u),
        h('span', { class: 'member-name' }, this.store.userName(u) || u),
        user && user.name ? h('span', { class: 'muted small' }, `@${user.name}`) : null,
        u !== this.store.self.id ? h('button', {
          type: 'button', class: 'btn btn-sm', 'aria-label': `Message ${this.store.userName(u) || u}`,
          onclick: () => this.openDm([u]),
        }, 'Message') : h('span', { class: 'muted small' }, '(you)')));
    }
    const c = this.store.channels.get(id);
    if (c && c.num_members !== members.length) {
      c.num_members = members.length;
      this.renderHeader();
    }
    const first = list.querySelector('button');
    if (first && this.panelEl.contains(document.activeElement) === false) {
      const closeBtn = this.panelEl.querySelector('.panel-head button');
      if (closeBtn) closeBtn.focus();
    }
  }

  // ------------------------------------------------------------- search ---

  async search(query) {
    const p = this.openPanel('search', 'Search results');
    p.query = query;
    const results = h('ol', { class: 'search-results', 'aria-labelledby': 'panel-title' });
    const status = h('p', { class: 'muted small', role: 'status' }, 'Searching…');
    this.panelEl.append(this.panelHead('Search', `“${query}”`), h('div', { class: 'panel-body' }, status, results));
    let r;
    try {
      r = await this.api.call('search.messages', { query, count: 40 });
    } catch (e) {
      status.textContent = explain(e);
      return;
    }
    if (this.panel !== p) return;
    const matches = (r.messages && r.messages.matches) || [];
    const total = (r.messages && r.messages.total) || matches.length;
    status.textContent = total ? `${total} ${total === 1 ? 'result' : 'results'}` : 'No messages match.';
    for (const m of matches) {
      const ch = m.channel && m.channel.id;
      const date = tsDate(m.ts);
      const where = this.store.channels.has(ch) ? this.store.channelTitle(ch) : `#${(m.channel && m.channel.name) || ch}`;
      const jump = h('button', {
        type: 'button', class: 'search-jump',
        'aria-label': `${this.store.userName(m.user) || m.username || m.user} in ${where}, ${formatWhen(date)}. Jump to message`,
        onclick: () => this.jumpTo(ch, m.ts, m.thread_ts),
      }, h('span', { class: 'search-where' }, where), h('span', { class: 'muted' }, ' · '),
      h('span', { class: 'search-who' }, this.store.userName(m.user) || m.username || m.user || ''),
      h('span', { class: 'muted' }, ' · '), h('time', { datetime: date.toISOString() }, formatWhen(date)));
      const text = h('div', { class: 'search-text' }, renderMrkdwn(m.text || '', this.mrkdwnCtx));
      const li = h('li', { class: 'search-hit', dataset: { ts: m.ts, channel: ch || '' } }, avatar(this, m.user, 'sm'),
        h('div', { class: 'search-body' }, jump, text));
      li.addEventListener('click', (e) => {
        if (e.target.closest('a,button')) return;
        this.jumpTo(ch, m.ts, m.thread_ts);
      });
      results.append(li);
    }
    const first = results.querySelector('button');
    if (first) first.focus();
  }

  async jumpTo(channel, ts, threadTs) {
    if (!channel) return;
    if (!this.store.channels.has(channel)) {
      await this.discoverChannel(channel);
      if (!this.store.channels.has(channel)) {
        this.go(channel);
        return;
      }
    }
    const keepPanel = this.panel && this.panel.kind === 'search' && !PHONE.matches;
    if (!keepPanel && this.panel && this.panel.kind === 'search') this.closePanel();
    if (this.current !== channel) {
      history.pushState(null, '', `#/${channel}`);
      await this.openChannel(channel);
    }
    const reply = threadTs && threadTs !== ts;
    const target = reply ? threadTs : ts;
    const list = this.store.list(channel);
    for (let i = 0; i < 60 && !list.get(target) && list.hasMore; i++) await this.loadOlder(channel);
    if (this.view && !this.view.highlight(target)) this.toast('That message is no longer there.', 'info');
    if (reply) {
      await this.openThread(channel, threadTs);
      if (this.panel && this.panel.view) this.panel.view.highlight(ts);
    }
  }

  // ----------------------------------------------------------- presence ---

  async loadPresence(ids) {
    const todo = ids.filter((id) => !this.store.presence.has(id) && !this.presenceLoads.has(id));
    for (const id of todo) this.presenceLoads.add(id);
    for (let i = 0; i < todo.length; i += 6) {
      await Promise.all(todo.slice(i, i + 6).map(async (id) => {
        try {
          const r = await this.api.call('users.getPresence', { user: id });
          this.store.presence.set(id, r.presence === 'active' ? 'active' : 'away');
          this.updatePresence(id);
        } catch { /* unknown stays away */ }
        this.presenceLoads.delete(id);
      }));
    }
  }

  updatePresence(id) {
    const p = this.store.presence.get(id) || 'away';
    for (const dot of $$(`[data-presence-user="${CSS.escape(id)}"]`)) {
      dot.className = `presence presence-${p}`;
      dot.setAttribute('aria-label', p === 'active' ? 'online' : 'away');
      dot.title = p === 'active' ? 'Online' : 'Away';
    }
  }

  // ------------------------------------------------------------- typing ---

  sendTyping(channel) {
    if (this.rtm) this.rtm.send({ type: 'typing', channel });
  }

  clearTyping(channel, user) {
    const t = this.store.typing.get(channel);
    if (t && t.delete(user) && channel === this.current) this.renderTyping();
  }

  expireTyping() {
    const now = Date.now();
    let changed = false;
    for (const [ch, t] of this.store.typing) {
      for (const [u, until] of t) {
        if (until < now) {
          t.delete(u);
          if (ch === this.current) changed = true;
        }
      }
    }
    if (changed) this.renderTyping();
  }

  renderTyping() {
    if (!this.typingEl) return;
    const t = this.store.typing.get(this.current);
    const names = t ? Array.from(t.keys()).map((u) => this.store.userName(u) || u) : [];
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    if (this.typingEl.textContent !== text) this.typingEl.textContent = text;
  }

  // ------------------------------------------------------------- events ---

  onEvent(ev) {
    switch (ev.type) {
      case 'message':
        this.onMessageEvent(ev);
        break;
      case 'reaction_added':
      case 'reaction_removed':
        if (ev.item && ev.item.channel) this.applyReaction(ev.item.channel, ev.item.ts, ev.reaction, ev.user, ev.type === 'reaction_added');
        break;
      case 'member_joined_channel':
        this.store.userName(ev.user); // fetches someone new
        if (ev.user === this.store.self.id) this.discoverChannel(ev.channel);
        else this.memberChange(ev.channel, +1);
        break;
      case 'member_left_channel':
        if (ev.user === this.store.self.id) this.leftChannel(ev.channel);
        else this.memberChange(ev.channel, -1);
        break;
      case 'channel_created':
      case 'group_joined':
      case 'im_created': {
        const c = ev.channel;
        if (!c || !c.id) break;
        const mine = ev.type !== 'channel_created' || c.creator === this.store.self.id;
        if (mine && !this.store.channels.has(c.id)) this.discoverChannel(c.id);
        break;
      }
      case 'channel_rename':
      case 'channel_topic':
      case 'channel_purpose':
        if (ev.channel && this.store.channels.has(ev.channel.id)) {
          const { unread_count: a, unread_count_display: b, mention_count: c2, is_member: d, ...rest } = ev.channel;
          this.store.setChannel(rest);
          this.renderSidebar();
          if (ev.channel.id === this.current) this.renderHeader();
        }
        break;
      case 'channel_archive':
      case 'channel_unarchive': {
        const c = this.store.channels.get(ev.channel);
        if (c) {
          c.is_archived = ev.type === 'channel_archive';
          this.renderSidebar();
        }
        break;
      }
      case 'user_typing':
        if (ev.user !== this.store.self.id) {
          let t = this.store.typing.get(ev.channel);
          if (!t) this.store.typing.set(ev.channel, (t = new Map()));
          t.set(ev.user, Date.now() + 6000);
          if (ev.channel === this.current) this.renderTyping();
        }
        break;
      case 'presence_change':
        this.store.presence.set(ev.user, ev.presence === 'active' ? 'active' : 'away');
        this.updatePresence(ev.user);
        break;
      case 'channel_marked':
        this.onMarked(ev.channel, ev.ts);
        break;
      case 'user_change':
        if (ev.user) {
          this.store.setUser(ev.user);
          this.renderSidebar();
          if (this.view) this.view.render();
          if (this.panel && this.panel.view) this.panel.view.render();
        }
        break;
      case 'file_deleted':
        if (ev.file_id) {
          this.store.files.set(ev.file_id, { id: ev.file_id, deleted: true, mode: 'tombstone' });
          this.refreshFile(ev.file_id);
        }
        break;
      default:
        break;
    }
  }

  onMessageEvent(ev) {
    const { seq, event_ts: eventTs, hidden, ...rest } = ev;
    if (ev.subtype === 'message_changed') {
      if (!ev.message) return;
      const m = normalizeMessage(ev.message, ev.channel);
      this.updateMessage(ev.channel, m.ts, (old) => m);
      return;
    }
    if (ev.subtype === 'message_deleted') {
      const prev = ev.previous_message ? normalizeMessage(ev.previous_message, ev.channel) : null;
      this.removeMessage(ev.channel, ev.deleted_ts, prev);
      return;
    }
    if (!ev.channel || !ev.ts) return;
    this.ingest(normalizeMessage(rest, ev.channel), { live: true });
  }

  // Read up to ts (here or in another tab): what is newer stays unread.
  onMarked(channel, ts) {
    const c = this.store.channels.get(channel);
    if (!c) return;
    if (c.last_read && ts && cmpTs(ts, c.last_read) < 0) return;
    c.last_read = ts;
    const list = this.store.lists.get(channel);
    let unread = 0;
    let mentions = 0;
    if (list && list.loaded && channel !== this.current) {
      const self = this.store.self.id;
      for (const m of list.items) {
        if (!inChannelView(m) || m.user === self || (ts && cmpTs(m.ts, ts) <= 0)) continue;
        unread++;
        if (c.is_im || c.is_mpim || mentionsUser(m.text, self)) mentions++;
      }
    } else if (channel !== this.current) {
      // Nothing loaded to count: ask.
      this.api.call('conversations.info', { channel }).then((r) => {
        const { is_member: im, ...rest } = r.channel;
        this.store.setChannel(rest);
        this.renderSidebar();
      }).catch(() => {});
    }
    c.unread_count = unread;
    c.unread_count_display = unread;
    c.mention_count = mentions;
    this.renderSidebar();
  }

  memberChange(channel, delta) {
    const c = this.store.channels.get(channel);
    if (!c) return;
    c.num_members = Math.max(0, (c.num_members || 0) + delta);
    if (channel === this.current) {
      this.renderHeader();
      if (this.panel && this.panel.kind === 'members') this.showMembers();
    }
  }

  leftChannel(channel) {
    this.store.channels.delete(channel);
    this.store.lists.delete(channel);
    this.renderSidebar();
    if (this.current === channel) {
      this.current = null;
      if (this.panel) this.closePanel();
      history.replaceState(null, '', location.pathname);
      this.route();
    }
  }

  async leaveChannel(id) {
    const ok = await confirmDialog({ title: 'Leave channel', text: `Leave ${this.store.channelTitle(id)}?`, confirm: 'Leave' });
    if (!ok) return;
    try {
      await this.api.call('conversations.leave', { channel: id });
      this.leftChannel(id);
    } catch (e) {
      this.fail(e);
    }
  }

  // ------------------------------------------------------------ dialogs ---

  createChannel() {
    const name = h('input', {
      id: 'new-channel-name', required: true, maxlength: '80', autocomplete: 'off',
      pattern: '[a-z0-9_\\-]+', 'aria-describedby': 'new-channel-hint', placeholder: 'e.g. plan-budget',
    });
    const priv = h('input', { type: 'checkbox', id: 'new-channel-private' });
    name.addEventListener('input', () => {
      const v = name.value.toLowerCase().replace(/\s+/g, '-');
      if (v !== name.value) name.value = v;
    });
    modal({
      title: 'Create a channel',
      body: h('div', null,
        h('div', { class: 'field' }, h('label', { for: 'new-channel-name' }, 'Name'), name,
          h('p', { class: 'muted small', id: 'new-channel-hint' }, 'Lowercase letters, numbers, hyphens and underscores.')),
        h('div', { class: 'field field-check' }, priv, h('label', { for: 'new-channel-private' }, 'Make private — only invited people can see it'))),
      actions: [{ label: 'Cancel' }, { label: 'Create', submit: true, primary: true }],
      onSubmit: async (d) => {
        try {
          const r = await this.api.call('conversations.create', { name: name.value.trim(), is_private: priv.checked });
          this.store.setChannel({ ...r.channel, is_member: true });
          this.renderSidebar();
          d.close();
          this.go(r.channel.id);
        } catch (e) {
          d.showError(explain(e));
          name.focus();
        }
      },
    });
  }

  async browseChannels() {
    const filter = h('input', { type: 'search', id: 'browse-filter', 'aria-label': 'Filter channels', placeholder: 'Filter channels' });
    const list = h('ul', { class: 'browse-list', 'aria-label': 'Channels' }, h('li', { class: 'muted' }, 'Loading…'));
    const d = modal({
      title: 'Browse channels',
      body: h('div', null, filter, list),
      actions: [{ label: 'Close' }],
      className: 'dialog-wide',
    });
    let channels = [];
    try {
      channels = await this.api.all('conversations.list', { types: 'public_channel,private_channel', exclude_archived: true }, 'channels');
    } catch (e) {
      d.showError(explain(e));
      return;
    }
    const draw = () => {
      const q = filter.value.trim().toLowerCase();
      clear(list);
      const shown = channels.filter((c) => !q || (c.name || '').includes(q))
        .sort((a, b) => (a.name || '').localeCompare(b.name || ''));
      if (!shown.length) list.append(h('li', { class: 'muted' }, 'No channels match.'));
      for (const c of shown) {
        const member = this.store.channels.has(c.id);
        list.append(h('li', { class: 'browse-item' },
          h('div', null,
            h('div', { class: 'browse-name' }, icon(c.is_private ? 'lock' : 'hash', { size: 14 }), ' ', c.name),
            h('div', { class: 'muted small' }, `${c.num_members || 0} ${c.num_members === 1 ? 'member' : 'members'}`,
              c.purpose && c.purpose.value ? ` · ${c.purpose.value}` : '')),
          h('button', {
            type: 'button', class: member ? 'btn btn-sm' : 'btn btn-sm btn-primary',
            'aria-label': `${member ? 'Open' : 'Join'} #${c.name}`,
            onclick: async () => {
              try {
                if (!member) {
                  const r = await this.api.call('conversations.join', { channel: c.id });
                  this.store.setChannel({ ...r.channel, is_member: true });
                  this.renderSidebar();
                }
                d.close();
                this.go(c.id);
              } catch (e) {
                d.showError(explain(e));
              }
            },
          }, member ? 'Open' : 'Join')));
      }
    };
    filter.addEventListener('input', draw);
    draw();
  }

  newDm() {
    const filter = h('input', { type: 'search', id: 'dm-filter', 'aria-label': 'Find people', placeholder: 'Find people' });
    const list = h('ul', { class: 'browse-list', role: 'group', 'aria-label': 'People' });
    const chosen = new Set();
    const users = Array.from(this.store.users.values())
      .filter((u) => !u.deleted && u.id !== this.store.self.id)
      .sort((a, b) => (this.store.userName(a.id) || '').localeCompare(this.store.userName(b.id) || ''));
    const draw = () => {
      const q = filter.value.trim().toLowerCase();
      clear(list);
      const shown = users.filter((u) => !q || [u.name, u.real_name, u.profile && u.profile.display_name]
        .some((s) => s && s.toLowerCase().includes(q)));
      if (!shown.length) list.append(h('li', { class: 'muted' }, 'Nobody matches.'));
      for (const u of shown) {
        const id = `dm-pick-${u.id}`;
        const box = h('input', { type: 'checkbox', id, checked: chosen.has(u.id) });
        box.addEventListener('change', () => { if (box.checked) chosen.add(u.id); else chosen.delete(u.id); });
        list.append(h('li', { class: 'browse-item' },
          h('label', { for: id, class: 'pick' }, box, avatar(this, u.id, 'sm'), presenceDot(this, u.id),
            h('span', null, this.store.userName(u.id)), h('span', { class: 'muted small' }, ` @${u.name}`))));
      }
    };
    filter.addEventListener('input', draw);
    draw();
    modal({
      title: 'New message',
      body: h('div', null, h('p', { class: 'muted small' }, 'Pick one person for a direct message, or several for a group.'), filter, list),
      actions: [{ label: 'Cancel' }, { label: 'Open conversation', submit: true, primary: true }],
      className: 'dialog-wide',
      onSubmit: async (d) => {
        if (!chosen.size) {
          d.showError('Pick at least one person.');
          return;
        }
        const ok = await this.openDm(Array.from(chosen), d);
        if (ok) d.close();
      },
    });
    this.loadPresence(users.map((u) => u.id));
  }

  async openDm(users, dialog = null) {
    try {
      const r = await this.api.call('conversations.open', { users: users.join(','), return_im: true });
      let c = r.channel;
      if (!c.is_im && !c.is_mpim && users.length === 1) c = { ...c, is_im: true, user: users[0] };
      if (c.is_im && !c.user && users.length === 1) c = { ...c, user: users[0] };
      this.store.setChannel({ ...c, is_member: true });
      if (c.is_mpim) await this.loadMpimNames([c.id]);
      this.renderSidebar();
      if (this.panel && this.panel.kind === 'members') this.closePanel();
      this.go(c.id);
      return true;
    } catch (e) {
      if (dialog) dialog.showError(explain(e));
      else this.fail(e);
      return false;
    }
  }

  editTopic() {
    const id = this.current;
    const c = this.store.channels.get(id);
    if (!c) return;
    const input = h('input', { id: 'topic-input', maxlength: '250', value: (c.topic && c.topic.value) || '' });
    modal({
      title: `Topic of ${this.store.channelTitle(id)}`,
      body: h('div', { class: 'field' }, h('label', { for: 'topic-input' }, 'Topic'), input),
      actions: [{ label: 'Cancel' }, { label: 'Save', submit: true, primary: true }],
      onSubmit: async (d) => {
        try {
          const r = await this.api.call('conversations.setTopic', { channel: id, topic: input.value });
          const { unread_count: a, unread_count_display: b, mention_count: m2, ...rest } = r.channel || {};
          this.store.setChannel(r.channel ? rest : { id, topic: { value: input.value } });
          d.close();
          this.renderHeader();
        } catch (e) {
          d.showError(explain(e));
        }
      },
    });
  }
}

// Copies each module's methods onto App.prototype; a name defined twice is a
// mistake, so it throws rather than letting one silently replace the other.
function mixin(target, ...sources) {
  for (const source of sources) {
    for (const name of Object.keys(source)) {
      if (Object.prototype.hasOwnProperty.call(target.prototype, name)) {
        throw new Error(`App.${name} is defined twice`);
      }
      Object.defineProperty(target.prototype, name, {
        value: source[name], writable: true, configurable: true, enumerable: false,
      });
    }
  }
}

mixin(App,
  themeMethods, toastMethods, authMethods, sessionMethods, shellMethods,
  sidebarMethods, routerMethods);

const app = new App();
app.boot();
