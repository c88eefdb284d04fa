// Conversations made, joined and left: create a channel, browse and join
// channels, start a direct or group message, set the topic, leave.
// Its methods are mixed into the App (app.js) and share its state.

import { icon } from './icons.js';
import { explain } from './api.js';
import { h, clear } from './dom.js';
import { avatar, presenceDot } from './messages.js';
import { modal, confirmDialog } from './dialogs.js';

export const channelActionMethods = {
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
  },

  async leaveChannel(id) {
    const ok = await confirmDialog({ title: 'Leave channel', text: `Leave ${this.store.channelTitle(id)}?`, confirm: 'Leave' });
    if (!ok) return;
    try {
      await this.api.call('conversations.leave', { channel: id });
      this.leftChannel(id);
    } catch (e) {
      this.fail(e);
    }
  },

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
  },

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
  },

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
  },

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
  },

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
  },
};
