// The open conversation: its header (title, topic, members, leave), its
// message list and composer, and marking it read.
// Its methods are mixed into the App (app.js) and share its state.

import { icon } from './icons.js';
import { ApiError } from './api.js';
import { inChannelView } from './store.js';
import { h, clear, $, cmpTs } from './dom.js';
import { renderMrkdwn } from './mrkdwn.js';
import { MessageView, presenceDot } from './messages.js';
import { Composer } from './composer.js';
import { LAST_KEY } from './router.js';
import { PHONE } from './shell.js';

export const channelViewMethods = {
  async openChannel(id) {
    if (this.current === id && this.view) return;
    const c = this.store.channels.get(id);
    if (!c) return;
    this.current = id;
    try { localStorage.setItem(LAST_KEY, id); } catch { /* none */ }
    if (this.view) this.view.destroy();
    if (this.editingFor) this.editingFor = null;
    const focusComposer = !this.sidebar.contains(document.activeElement) || !PHONE.matches;

    clear(this.main);
    const header = h('header', { class: 'channel-header' });
    const scroller = h('div', {
      class: 'scroller', role: 'log', tabindex: '0', 'aria-live': 'polite', 'aria-relevant': 'additions',
      'aria-label': `Messages in ${this.store.channelTitle(id)}`,
    });
    this.typingEl = h('div', { class: 'typing', 'aria-live': 'polite' });
    this.composer = new Composer(this, {
      channel: id, id: 'composer-input',
      label: `Message ${this.store.channelTitle(id)}`,
      placeholder: `Message ${this.store.channelTitle(id)}`,
    });
    const wrap = h('div', { class: 'scroll-wrap' }, scroller);
    this.main.append(header, wrap, this.typingEl, this.composer.el);
    this.renderHeader();
    const list = this.store.list(id);
    this.view = new MessageView(this, {
      mode: 'channel', channel: id, list, scroller,
      onScrollTop: () => this.loadOlder(id),
    });
    this.renderSidebar();
    this.renderTyping();
    if (focusComposer) this.composer.focus();
    if (!list.loaded) {
      this.view.setHead(h('div', { class: 'loading' }, 'Loading messages…'));
      try {
        await this.loadLatest(id);
      } catch (e) {
        this.fail(e);
      }
    } else if (list.stale) {
      try {
        await this.catchUp(id);
      } catch (e) {
        if (!(e instanceof ApiError && e.isNetwork)) this.fail(e);
      }
    }
    if (this.current !== id) return;
    this.updateListHead(id);
    this.view.render({ keep: false });
    this.view.scrollToBottom();
    this.markRead(id, true);
    // A short list cannot scroll: fetch older until it can, or there is no more.
    this.fillScreen(id);
    if (this.panel && this.panel.kind === 'members') this.showMembers();
  },

  renderHeader() {
    const id = this.current;
    const c = this.store.channels.get(id);
    if (!c) return;
    const header = $('.channel-header', this.main);
    if (!header) return;
    clear(header);
    const title = h('h1', { class: 'channel-title' });
    if (c.is_im) title.append(presenceDot(this, c.user), ' ', this.store.channelLabel(id));
    else if (c.is_mpim) title.append(this.store.channelLabel(id));
    else title.append(h('span', { class: 'conv-icon', 'aria-hidden': 'true' }, icon(c.is_private ? 'lock' : 'hash', { size: 17 })), c.name);
    const topic = c.topic && c.topic.value ? c.topic.value : '';
    const topicBtn = h('button', {
      type: 'button', class: `topic${topic ? '' : ' muted'}`, title: topic ? 'Edit topic' : 'Add a topic',
      'aria-label': topic ? `Topic: ${topic}. Edit topic` : 'Add a topic', onclick: () => this.editTopic(),
    });
    if (topic) topicBtn.append(renderMrkdwn(topic, this.mrkdwnCtx));
    else topicBtn.textContent = c.is_im ? '' : 'Add a topic';
    const members = h('button', {
      type: 'button', class: 'btn btn-sm members-btn', 'aria-label': `Members: ${c.num_members || ''}`.trim(),
      'aria-expanded': this.panel && this.panel.kind === 'members' ? 'true' : 'false',
      'aria-controls': 'panel',
      onclick: () => (this.panel && this.panel.kind === 'members' ? this.closePanel() : this.showMembers()),
    }, icon('users', { size: 16 }), String(c.num_members || ''));
    const actions = h('div', { class: 'header-actions' }, members);
    if (!c.is_im && !c.is_mpim && !c.is_general) {
      actions.append(h('button', {
        type: 'button', class: 'btn btn-sm', onclick: () => this.leaveChannel(id),
      }, 'Leave'));
    }
    header.append(h('div', { class: 'channel-heading' }, title, c.is_im ? null : topicBtn), actions);
  },

  updateListHead(id) {
    if (!this.view || this.current !== id) return;
    const list = this.store.list(id);
    if (list.hasMore) {
      this.view.setHead(h('div', { class: 'loading' }, list.loading ? 'Loading older messages…' : ''));
      return;
    }
    const c = this.store.channels.get(id);
    const title = this.store.channelTitle(id);
    this.view.setHead(h('div', { class: 'beginning' },
      h('h2', null, c && (c.is_im || c.is_mpim) ? `This is the beginning of your conversation with ${title}` : `This is the very beginning of ${title}`),
      c && c.purpose && c.purpose.value ? h('p', { class: 'muted' }, c.purpose.value) : null));
  },

  markRead(id, force = false) {
    if (id !== this.current || document.visibilityState !== 'visible') return;
    const c = this.store.channels.get(id);
    const list = this.store.lists.get(id);
    if (!c || !list || !list.loaded) return;
    let newest = null;
    for (let i = list.items.length - 1; i >= 0; i--) {
      if (inChannelView(list.items[i])) { newest = list.items[i].ts; break; }
    }
    const { unread, mentions } = this.store.unread(id);
    if (!newest) return;
    if (!force && !unread && !mentions && c.last_read && cmpTs(c.last_read, newest) >= 0) return;
    if (unread || mentions) {
      c.unread_count = 0;
      c.unread_count_display = 0;
      c.mention_count = 0;
      this.renderSidebar();
    }
    clearTimeout(this.markTimers.get(id));
    this.markTimers.set(id, setTimeout(async () => {
      if (c.last_read && cmpTs(c.last_read, newest) >= 0 && !force) return;
      try {
        await this.api.call('conversations.mark', { channel: id, ts: newest });
        c.last_read = newest;
      } catch { /* next time */ }
    }, force ? 50 : 400));
  },
};
