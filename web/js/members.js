// The member list of the open conversation, in the side panel.
// Its methods are mixed into the App (app.js) and share its state.

import { h, clear } from './dom.js';
import { avatar, presenceDot } from './messages.js';

export const memberMethods = {
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
  },
};
