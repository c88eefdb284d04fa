// Routing: #/<channel id> in the address picks the open conversation; an
// unknown one is offered to join; else the last one, #general, or the first.
// Its methods are mixed into the App (app.js) and share its state.

import { h, clear } from './dom.js';

export const LAST_KEY = 'libchat.lastChannel';

export const routerMethods = {
  go(channel) {
    const hash = `#/${channel}`;
    if (location.hash === hash) this.route();
    else location.hash = hash;
  },

  async route() {
    if (!this.store.self || !this.appEl) return;
    const m = /^#\/([CGD][A-Z0-9]+)/.exec(location.hash);
    let id = m ? m[1] : null;
    if (!id || !this.store.channels.has(id)) {
      if (id) {
        // Not one of ours: perhaps a public channel to look at and join.
        try {
          const r = await this.api.call('conversations.info', { channel: id });
          if (r.channel.is_member) {
            this.store.setChannel(r.channel);
            this.renderSidebar();
          } else {
            this.showJoin(r.channel);
            return;
          }
        } catch {
          id = null;
        }
      }
      if (!id || !this.store.channels.has(id)) {
        let last = null;
        try { last = localStorage.getItem(LAST_KEY); } catch { /* none */ }
        const { chans, dms } = this.sortedChannels();
        const general = chans.find((c) => c.is_general);
        id = (last && this.store.channels.has(last) && last) || (general && general.id) || (chans[0] && chans[0].id) || (dms[0] && dms[0].id);
        if (!id) {
          this.showEmpty();
          return;
        }
        history.replaceState(null, '', `#/${id}`);
      }
    }
    await this.openChannel(id);
  },

  showEmpty() {
    clear(this.main);
    this.main.append(h('div', { class: 'empty' }, h('h1', null, 'No conversations yet'),
      h('button', { type: 'button', class: 'btn btn-primary', onclick: () => this.createChannel() }, 'Create a channel')));
  },

  showJoin(c) {
    this.current = null;
    if (this.view) this.view.destroy();
    this.view = null;
    clear(this.main);
    const join = h('button', {
      type: 'button', class: 'btn btn-primary', onclick: async () => {
        try {
          const r = await this.api.call('conversations.join', { channel: c.id });
          this.store.setChannel({ ...r.channel, is_member: true });
          this.renderSidebar();
          this.openChannel(c.id);
        } catch (e) { this.fail(e); }
      },
    }, `Join #${c.name}`);
    this.main.append(h('div', { class: 'empty' },
      h('h1', null, `#${c.name}`),
      c.purpose && c.purpose.value ? h('p', { class: 'muted' }, c.purpose.value) : null,
      h('p', null, `${c.num_members || 0} members`), join));
    join.focus();
    this.renderSidebar();
  },
};
