// Reactions: adding and removing them, and the emoji picker.
// Its methods are mixed into the App (app.js) and share its state.

import { h } from './dom.js';
import { PICKER, emojiChar } from './emoji.js';

export const reactionMethods = {
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
  },

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
  },

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
  },

  closePicker(refocus = true) {
    if (!this.picker) return;
    const { el, anchor, outside } = this.picker;
    this.picker = null;
    document.removeEventListener('mousedown', outside);
    el.remove();
    if (refocus && anchor.isConnected) anchor.focus();
  },
};
