// Who is online (presence dots) and who is typing.
// Its methods are mixed into the App (app.js) and share its state.

import { $$ } from './dom.js';

export const presenceMethods = {
  // Follows the presence of these users from now on (with those followed
  // already, the newest 5,000 at most), in one presence_sub per burst of calls.
  watchPresence(ids) {
    if (!this.presenceWatch) this.presenceWatch = new Set();
    for (const id of ids) {
      this.presenceWatch.delete(id);
      this.presenceWatch.add(id);
    }
    while (this.presenceWatch.size > 5000) this.presenceWatch.delete(this.presenceWatch.values().next().value);
    if (this.presenceSubQueued) return;
    this.presenceSubQueued = true;
    // before any users.getPresence answer: no change falls between the two
    queueMicrotask(() => {
      this.presenceSubQueued = false;
      if (this.rtm) this.rtm.subscribePresence(Array.from(this.presenceWatch));
    });
  },

  async loadPresence(ids) {
    this.watchPresence(ids);
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
  },

  updatePresence(id) {
    const p = this.store.presence.get(id) || 'away';
    for (const dot of $$(`[data-presence-user="${CSS.escape(id)}"]`)) {
      dot.className = `presence presence-${p}`;
      dot.setAttribute('aria-label', p === 'active' ? 'online' : 'away');
      dot.title = p === 'active' ? 'Online' : 'Away';
    }
  },

  sendTyping(channel) {
    if (this.rtm) this.rtm.send({ type: 'typing', channel });
  },

  clearTyping(channel, user) {
    const t = this.store.typing.get(channel);
    if (t && t.delete(user) && channel === this.current) this.renderTyping();
  },

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
  },

  renderTyping() {
    if (!this.typingEl) return;
    const t = this.store.typing.get(this.current);
    const names = t ? Array.from(t.keys()).map((u) => this.store.userName(u) || u) : [];
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    if (this.typingEl.textContent !== text) this.typingEl.textContent = text;
  },
};
