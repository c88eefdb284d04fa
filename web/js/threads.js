// A thread in the side panel: its replies and its own composer.
// Its methods are mixed into the App (app.js) and share its state.

import { h } from './dom.js';
import { MessageView } from './messages.js';
import { Composer } from './composer.js';

export const threadMethods = {
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
  },

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
  },
};
