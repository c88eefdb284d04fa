// libchat's web client: one page, plain ES modules, the public Web API and
// the event stream only. See web/README.md for how it is put together.
//
// This is the entry point. The App below holds the client's state (the API
// client, the store, the open conversation, its view and composer, the side
// panel) and wires the page's global events; each module in js/ adds the
// methods of one job to it, so they all share that state through `this`.

import { icon } from './js/icons.js';
import { Api, explain } from './js/api.js';
import { Store, normalizeMessage, inChannelView } from './js/store.js';
import { h, clear, $$, cmpTs } from './js/dom.js';
import { mentionsUser } from './js/mrkdwn.js';
import { avatar, presenceDot } from './js/messages.js';
import { modal, confirmDialog } from './js/dialogs.js';
import { themeMethods, DARK } from './js/theme.js';
import { toastMethods } from './js/toasts.js';
import { authMethods } from './js/auth.js';
import { sessionMethods } from './js/session.js';
import { shellMethods } from './js/shell.js';
import { sidebarMethods } from './js/sidebar.js';
import { routerMethods } from './js/router.js';
import { channelViewMethods } from './js/channel-view.js';
import { historyMethods } from './js/message-history.js';
import { messageFlowMethods } from './js/message-flow.js';
import { editingMethods } from './js/editing.js';
import { reactionMethods } from './js/reactions.js';
import { fileMethods } from './js/files.js';
import { panelMethods } from './js/panel.js';
import { threadMethods } from './js/threads.js';
import { memberMethods } from './js/members.js';
import { searchMethods } from './js/search.js';

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
  sidebarMethods, routerMethods, channelViewMethods, historyMethods, messageFlowMethods,
  editingMethods, reactionMethods, fileMethods, panelMethods, threadMethods,
  memberMethods, searchMethods);

const app = new App();
app.boot();
