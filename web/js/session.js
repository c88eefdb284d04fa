// The signed-in session: the first load (people, conversations), the event
// stream, people and conversations learned later, and the refetch after
// missed events (resync, or a restarted server).
// Its methods are mixed into the App (app.js) and share its state.

import { ApiError } from './api.js';
import { Rtm } from './rtm.js';

export const sessionMethods = {
  async startSession() {
    this.root.setAttribute('aria-busy', 'true');
    const me = await this.api.call('auth.test');
    this.store.self = { id: me.user_id, team_id: me.team_id };
    this.store.onMissingUser = (id) => this.fetchUser(id);
    this.mrkdwnCtx.selfId = me.user_id;
    const [team, users, convs] = await Promise.all([
      this.api.call('team.info').catch(() => ({ team: { name: me.team } })),
      this.api.all('users.list', {}, 'members'),
      this.api.all('users.conversations', { types: 'public_channel,private_channel,mpim,im', exclude_archived: true }, 'channels'),
    ]);
    this.store.team = team.team || { name: me.team };
    for (const u of users) this.store.setUser(u);
    for (const c of convs) this.store.setChannel(c);
    await this.loadMpimNames();
    this.renderShell();
    this.root.setAttribute('aria-busy', 'false');
    this.rtm = new Rtm(this.api, {
      onEvent: (ev) => this.onEvent(ev),
      onStatus: (s) => this.onRtmStatus(s),
      onSync: (s) => this.onSync(s),
      onAuthError: () => this.endSession('Your session has ended. Please sign in again.'),
    });
    this.rtm.start();
    await this.route();
    this.loadPresence(Array.from(this.store.users.keys()).slice(0, 100));
  },

  async loadMpimNames(ids) {
    const todo = ids || Array.from(this.store.channels.values()).filter((c) => c.is_mpim).map((c) => c.id);
    await Promise.all(todo.map(async (id) => {
      try {
        const members = await this.api.all('conversations.members', { channel: id }, 'members');
        const names = members.filter((u) => u !== this.store.self.id).map((u) => this.store.userName(u) || u);
        this.store.mpimNames.set(id, names.join(', '));
      } catch { /* keep its name */ }
    }));
  },

  // A user we have not seen (signed up after we loaded the list): fetch,
  // then draw again whatever named them by id.
  fetchUser(id) {
    if (this.store.missingUsers.has(id) || this.userFetch.has(id)) return;
    this.userFetch.add(id);
    clearTimeout(this.userFetchTimer);
    this.userFetchTimer = setTimeout(async () => {
      const ids = Array.from(this.userFetch);
      const found = [];
      await Promise.all(ids.map(async (uid) => {
        try {
          const r = await this.api.call('users.info', { user: uid });
          this.store.setUser(r.user);
          found.push(uid);
        } catch {
          this.store.missingUsers.add(uid);
        }
      }));
      for (const uid of ids) this.userFetch.delete(uid);
      if (!found.length || !this.appEl) return;
      this.renderSidebar();
      if (this.view) this.view.render();
      if (this.panel && this.panel.view) this.panel.view.render();
      if (this.current) this.renderHeader();
      this.renderTyping();
      this.loadPresence(found);
    }, 30);
  },

  async discoverChannel(id) {
    if (this.discovering && this.discovering.has(id)) return;
    this.discovering = this.discovering || new Set();
    this.discovering.add(id);
    try {
      const r = await this.api.call('conversations.info', { channel: id });
      if (r.channel && (r.channel.is_member !== false || r.channel.is_im || r.channel.is_mpim)) {
        const c = this.store.setChannel({ ...r.channel, is_member: true });
        const p = this.pendingUnread.get(id);
        this.pendingUnread.delete(id);
        if (p && id !== this.current) {
          c.unread_count_display = Math.max(c.unread_count_display || 0, p.unread);
          c.unread_count = Math.max(c.unread_count || 0, p.unread);
          c.mention_count = Math.max(c.mention_count || 0, p.mentions);
        }
        if (r.channel.is_mpim) await this.loadMpimNames([id]);
        if (r.channel.is_im && r.channel.user) this.loadPresence([r.channel.user]);
        this.renderSidebar();
      }
    } catch { /* not for us */ }
    this.discovering.delete(id);
  },

  // After a (re)connect: what was missed is either replayed by the stream,
  // or — after a resync or a server restart — fetched again here.
  onSync({ fresh, resync }) {
    if (fresh && !this.firstSynced) {
      this.firstSynced = true;
      // Whatever arrived between the first history load and the stream.
      if (this.current) this.catchUp(this.current).catch(() => {});
      return;
    }
    if (resync || fresh) this.resyncAll();
  },

  async resyncAll() {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.syncing = (async () => {
      do {
        this.syncAgain = false;
        try {
          const convs = await this.api.all('users.conversations', { types: 'public_channel,private_channel,mpim,im', exclude_archived: true }, 'channels');
          const seen = new Set();
          for (const c of convs) {
            seen.add(c.id);
            this.store.setChannel(c);
          }
          for (const id of Array.from(this.store.channels.keys())) {
            if (!seen.has(id)) this.store.channels.delete(id);
          }
          for (const [id, list] of this.store.lists) {
            if (id !== this.current) list.stale = true;
          }
          if (this.current && this.store.channels.has(this.current)) await this.catchUp(this.current);
          if (this.panel && this.panel.kind === 'thread') {
            await this.loadThread(this.panel.channel, this.panel.ts);
            if (this.panel && this.panel.view) this.panel.view.render();
          }
          this.renderSidebar();
          if (this.current) this.markRead(this.current, true);
          this.store.presence.clear();
          this.loadPresence(Array.from(this.store.users.keys()).slice(0, 100));
        } catch (e) {
          if (!(e instanceof ApiError && e.isNetwork)) this.fail(e);
        }
      } while (this.syncAgain);
    })();
    try {
      await this.syncing;
    } finally {
      this.syncing = null;
    }
  },
};
