// Editing a message in place (the inline editor) and deleting one.
// Its methods are mixed into the App (app.js) and share its state.

import { inChannelView } from './store.js';
import { announce } from './dom.js';
import { toEditable, fromEditable } from './mrkdwn.js';
import { createEditor } from './composer.js';
import { confirmDialog } from './dialogs.js';

export const editingMethods = {
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
  },

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
  },

  endEdit(view) {
    if (!view.editor) return;
    const { ts } = view.editor;
    view.editor = null;
    const m = view.list.get(ts);
    if (m) view.apply({ kind: 'updated', message: m });
  },

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
  },
};
