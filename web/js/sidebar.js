// The sidebar's conversation list (channels, direct messages, unread and
// mention badges) and the window title.
// Its methods are mixed into the App (app.js) and share its state.

import { icon } from './icons.js';
import { h, clear } from './dom.js';
import { avatar, presenceDot } from './messages.js';
import { PHONE } from './shell.js';

export const sidebarMethods = {
  sortedChannels() {
    const all = Array.from(this.store.channels.values()).filter((c) => !c.is_archived && c.is_member !== false);
    const chans = all.filter((c) => !c.is_im && !c.is_mpim)
      .sort((a, b) => (a.name || '').localeCompare(b.name || ''));
    const dms = all.filter((c) => c.is_im || c.is_mpim)
      .sort((a, b) => (this.store.channelLabel(a.id) || '').localeCompare(this.store.channelLabel(b.id) || ''));
    return { chans, dms };
  },

  convLink(c) {
    const { unread, mentions } = this.store.unread(c.id);
    const active = c.id === this.current;
    const label = this.store.channelLabel(c.id) || c.id;
    let lead;
    if (c.is_im) lead = presenceDot(this, c.user);
    else if (c.is_mpim) lead = h('span', { class: 'conv-icon', 'aria-hidden': 'true' }, String(Math.max(2, (this.store.mpimNames.get(c.id) || '').split(',').length + 1)));
    else lead = h('span', { class: 'conv-icon', 'aria-hidden': 'true' }, icon(c.is_private ? 'lock' : 'hash', { size: 15 }));
    const unreadText = unread > 0
      ? `${unread} unread${mentions > 0 ? `, ${mentions} ${mentions === 1 ? 'mention' : 'mentions'}` : ''}` : '';
    const badge = unread > 0 || mentions > 0
      ? h('span', { class: mentions > 0 ? 'badge badge-mention' : 'badge', dataset: { unread: String(unread), mentions: String(mentions) } },
        String(mentions > 0 ? mentions : unread))
      : null;
    return h('li', null, h('a', {
      class: `conv${active ? ' active' : ''}${unread > 0 ? ' unread' : ''}`,
      href: `#/${c.id}`,
      dataset: { channel: c.id },
      'aria-current': active ? 'page' : false,
      'aria-label': `${c.is_im ? 'Direct message with ' : c.is_mpim ? 'Group message with ' : c.is_private ? 'private channel ' : 'channel '}${label}${unreadText ? `, ${unreadText}` : ''}`,
      onclick: () => { if (PHONE.matches) this.toggleNav(false); },
    }, lead, h('span', { class: 'conv-name' }, label), badge));
  },

  renderSidebar() {
    if (!this.sidebar) return;
    const focusedChannel = this.sidebar.contains(document.activeElement) && document.activeElement.dataset
      ? document.activeElement.dataset.channel : null;
    const focusedLabel = this.sidebar.contains(document.activeElement) ? document.activeElement.getAttribute('aria-label') : null;
    const { chans, dms } = this.sortedChannels();
    clear(this.sidebar);
    this.sidebar.append(
      h('div', { class: 'team' }, h('h2', { class: 'team-name' }, this.store.team.name || 'Workspace')),
      h('section', { class: 'side-section', 'aria-labelledby': 'side-channels' },
        h('div', { class: 'section-head' },
          h('h3', { id: 'side-channels' }, 'Channels'),
          h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Browse channels', title: 'Browse channels', onclick: () => this.browseChannels() },
            icon('browse', { size: 16 })),
          h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Create channel', title: 'Create channel', onclick: () => this.createChannel() },
            icon('plus', { size: 16 }))),
        h('ul', { class: 'conv-list' }, chans.map((c) => this.convLink(c)))),
      h('section', { class: 'side-section', 'aria-labelledby': 'side-dms' },
        h('div', { class: 'section-head' },
          h('h3', { id: 'side-dms' }, 'Direct messages'),
          h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'New direct message', title: 'New direct message', onclick: () => this.newDm() },
            icon('plus', { size: 16 }))),
        dms.length ? h('ul', { class: 'conv-list' }, dms.map((c) => this.convLink(c)))
          : h('p', { class: 'muted small side-empty' }, 'No direct messages yet.')),
      h('div', { class: 'side-footer' },
        avatar(this, this.store.self.id, 'sm'),
        h('span', { class: 'conv-name' }, this.store.userName(this.store.self.id) || ''),
        h('button', { type: 'button', class: 'btn btn-sm', onclick: () => this.logout() }, 'Sign out')));
    if (focusedChannel) {
      const again = this.sidebar.querySelector(`a[data-channel="${CSS.escape(focusedChannel)}"]`);
      if (again) again.focus({ preventScroll: true });
    } else if (focusedLabel) {
      const again = Array.from(this.sidebar.querySelectorAll('button')).find((b) => b.getAttribute('aria-label') === focusedLabel);
      if (again) again.focus({ preventScroll: true });
    }
    this.updateTitle();
  },

  updateTitle() {
    let total = 0;
    for (const c of this.store.channels.values()) {
      const u = this.store.unread(c.id);
      if (c.id !== this.current) total += u.mentions || (u.unread ? 0 : 0);
    }
    const here = this.current ? this.store.channelTitle(this.current) : '';
    document.title = `${total ? `(${total}) ` : ''}${here ? `${here} · ` : ''}${this.store.team.name || 'libchat'}`;
    if (this.topTitle) this.topTitle.textContent = this.store.team.name || 'libchat';
  },
};
