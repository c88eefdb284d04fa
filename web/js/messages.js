// Message rendering and the scrolling list views (channel and thread).

import { icon } from './icons.js';
import {
  h, clear, tsDate, dayKey, formatDay, formatTime, formatFull, formatWhen, formatSize,
  initials, avatarColour, httpUrl,
} from './dom.js';
import { renderMrkdwn, mentionsUser } from './mrkdwn.js';
import { emojiChar } from './emoji.js';
import { isReply } from './store.js';
import { blockContext, renderBlocks, renderAttachments } from './blocks.js';

const GROUP_MS = 5 * 60 * 1000;

export function domId(prefix, ts) {
  return `${prefix}-${String(ts).replace('.', '-')}`;
}

export function avatar(app, userId, size = 'md') {
  const name = app.store.userName(userId) || userId || '?';
  const el = h('span', { class: `avatar avatar-${size}`, 'aria-hidden': 'true' }, initials(name));
  el.style.setProperty('--avatar-bg', avatarColour(userId || name));
  return el;
}

// The name a message is shown under: an app's or webhook's `username` first.
function authorName(app, m) {
  if (typeof m.username === 'string' && m.username.trim()) return m.username.slice(0, 80);
  const bot = m.bot_profile && typeof m.bot_profile.name === 'string' ? m.bot_profile.name.slice(0, 80) : '';
  return app.store.userName(m.user) || bot || m.user || 'Unknown';
}

const isApp = (m) => !!m.bot_id || m.subtype === 'bot_message';

// A message's avatar: its `icons` (an image, or an emoji) when it has them.
function messageAvatar(app, m, name) {
  const icons = m.icons && typeof m.icons === 'object' ? m.icons : {};
  const src = httpUrl(icons.image_48) || httpUrl(icons.image_72) || httpUrl(icons.image_36);
  const fallback = () => {
    if (!m.username && !(isApp(m) && !m.user)) return avatar(app, m.user);
    const el = h('span', { class: 'avatar avatar-md', 'aria-hidden': 'true' }, initials(name));
    el.style.setProperty('--avatar-bg', avatarColour(m.bot_id || name));
    return el;
  };
  if (src) {
    const img = h('img', {
      referrerpolicy: 'no-referrer', loading: 'lazy', decoding: 'async', class: 'avatar avatar-md avatar-img', alt: '', src,
    });
    img.addEventListener('error', () => img.replaceWith(fallback()));
    return img;
  }
  const em = typeof icons.emoji === 'string' && /^:([a-z0-9_+-]{1,40}):$/.exec(icons.emoji);
  const ch = em && emojiChar(em[1]);
  if (ch) return h('span', { class: 'avatar avatar-md avatar-emoji', 'aria-hidden': 'true' }, ch);
  return fallback();
}

export function presenceDot(app, userId) {
  const p = app.store.presence.get(userId) || 'away';
  return h('span', {
    class: `presence presence-${p}`,
    dataset: { presenceUser: userId },
    role: 'img',
    'aria-label': p === 'active' ? 'online' : 'away',
    title: p === 'active' ? 'Online' : 'Away',
  });
}

function canGroup(prev, m) {
  if (!prev || prev.subtype || m.subtype) return false;
  if (prev.user !== m.user) return false;
  if ((prev.username || '') !== (m.username || '') || (prev.bot_id || '') !== (m.bot_id || '')) return false;
  const a = tsDate(prev.ts);
  const b = tsDate(m.ts);
  return dayKey(a) === dayKey(b) && b - a < GROUP_MS;
}

function renderFiles(app, m) {
  if (!m.files || m.files.length === 0) return null;
  const wrap = h('div', { class: 'files' });
  for (const ref of m.files) {
    const f = ref.name ? ref : app.store.files.get(ref.id);
    if (!f) {
      app.loadFile(ref.id);
      wrap.append(h('div', { class: 'file file-loading', dataset: { fileId: ref.id } }, 'Loading file…'));
      continue;
    }
    if (f.mode === 'tombstone' || f.deleted) {
      wrap.append(h('div', { class: 'file file-deleted' }, 'This file was deleted.'));
      continue;
    }
    const title = f.title || f.name || 'file';
    const view = app.api.fileUrl(f.url_private);
    const download = app.api.fileUrl(f.url_private_download || f.url_private, { download: true });
    const isImage = /^image\/(png|jpe?g|gif|webp|bmp|avif)$/i.test(f.mimetype || '');
    if (isImage && view) {
      const img = h('img', {
        class: 'file-image', src: view, alt: title, loading: 'lazy', decoding: 'async',
      });
      img.addEventListener('load', () => app.onImageLoad(img));
      img.addEventListener('error', () => {
        img.replaceWith(h('span', { class: 'file-broken' }, `${title} (preview unavailable)`));
      });
      wrap.append(h('figure', { class: 'file file-image-wrap', dataset: { fileId: f.id } },
        h('a', { href: view, target: '_blank', rel: 'noopener noreferrer', 'aria-label': `Open image ${title}` }, img),
        h('figcaption', null,
          h('span', { class: 'file-name' }, title),
          download ? h('a', { class: 'file-download', href: download, download: f.name || title, 'aria-label': `Download ${title}` }, 'Download') : null)));
    } else {
      wrap.append(h('div', { class: 'file file-card', dataset: { fileId: f.id } },
        h('span', { class: 'file-icon', 'aria-hidden': 'true' }, (f.filetype || 'file').slice(0, 4).toUpperCase()),
        h('span', { class: 'file-meta' },
          h('span', { class: 'file-name' }, title),
          h('span', { class: 'file-size' }, formatSize(f.size))),
        download ? h('a', { class: 'file-download', href: download, download: f.name || title, 'aria-label': `Download ${title}` }, 'Download') : null));
    }
  }
  return wrap;
}

function renderReactions(app, m) {
  if (!m.reactions || m.reactions.length === 0) return null;
  const self = app.store.self.id;
  const wrap = h('div', { class: 'reactions', role: 'group', 'aria-label': 'Reactions' });
  for (const r of m.reactions) {
    const count = r.count ?? r.users.length;
    if (!count) continue;
    const mine = r.users.includes(self);
    const who = r.users.map((u) => app.store.userName(u) || u).join(', ');
    const ch = emojiChar(r.name);
    wrap.append(h('button', {
      type: 'button',
      class: mine ? 'reaction mine' : 'reaction',
      'aria-pressed': mine ? 'true' : 'false',
      'aria-label': `${r.name.replace(/_/g, ' ')}: ${count} ${count === 1 ? 'reaction' : 'reactions'}${mine ? ', including yours' : ''}`,
      title: `${who} reacted with :${r.name}:`,
      dataset: { reaction: r.name },
      onclick: () => app.toggleReaction(m, r.name),
    }, h('span', { class: 'reaction-emoji', 'aria-hidden': 'true' }, ch || `:${r.name}:`),
    h('span', { class: 'reaction-count', 'aria-hidden': 'true' }, String(count))));
  }
  wrap.append(h('button', {
    type: 'button', class: 'reaction reaction-add', 'aria-label': 'Add reaction', title: 'Add reaction',
    onclick: (e) => app.pickReaction(m, e.currentTarget),
  }, icon('reaction', { size: 16 })));
  return wrap;
}

function renderThreadLink(app, m) {
  if (!m.reply_count) return null;
  const n = m.reply_count;
  const label = `${n} ${n === 1 ? 'reply' : 'replies'}`;
  const people = (m.reply_users || []).slice(0, 3).map((u) => avatar(app, u, 'xs'));
  return h('button', {
    type: 'button', class: 'thread-link', dataset: { threadTs: m.ts },
    'aria-label': `${label}, open thread`,
    onclick: () => app.openThread(m.channel, m.ts),
  }, h('span', { class: 'thread-people' }, people),
  h('span', { class: 'thread-count' }, label),
  m.latest_reply ? h('span', { class: 'thread-last' }, `Last reply ${formatWhen(tsDate(m.latest_reply))}`) : null);
}

export function renderMessage(app, m, { grouped = false, inThread = false, editor = null, searchHit = false } = {}) {
  const self = app.store.self.id;
  const mine = m.user === self;
  const date = tsDate(m.ts);
  const name = authorName(app, m);
  const system = !!m.subtype && !['thread_broadcast', 'file_share', 'bot_message'].includes(m.subtype);
  const classes = ['msg'];
  if (grouped) classes.push('grouped');
  if (mine) classes.push('mine');
  if (system) classes.push('system');
  if (!mine && mentionsUser(m.text, self)) classes.push('mentions-me');
  if (editor) classes.push('editing');

  const el = h('article', {
    class: classes.join(' '),
    id: domId(inThread ? 'tmsg' : 'msg', m.ts),
    tabindex: '-1',
    dataset: { ts: m.ts, user: m.user || '' },
    'aria-label': `${name}, ${formatFull(date)}`,
  });

  const gutter = h('div', { class: 'msg-gutter' });
  if (grouped) {
    gutter.append(h('time', { class: 'msg-time-hover', datetime: date.toISOString(), title: formatFull(date) }, formatTime(date)));
  } else {
    gutter.append(messageAvatar(app, m, name));
  }
  el.append(gutter);

  const body = h('div', { class: 'msg-body' });
  if (!grouped) {
    body.append(h('div', { class: 'msg-meta' },
      h('span', { class: 'msg-author' }, name),
      isApp(m) ? h('span', { class: 'msg-badge', title: 'Posted by an app' }, 'APP') : null,
      h('time', { class: 'msg-time', datetime: date.toISOString(), title: formatFull(date) }, formatTime(date))));
  }
  const ctx = blockContext(app.mrkdwnCtx, { message: m, onImageLoad: (img) => app.onImageLoad(img) });
  if (editor) {
    body.append(editor);
  } else {
    // Blocks, when there are any, are the message; its text is then only
    // the notification's fallback.
    const blocks = renderBlocks(m.blocks, ctx);
    const text = h('div', { class: blocks ? 'msg-text msg-text-blocks' : 'msg-text' });
    if (blocks) text.append(blocks);
    else if (m.text) text.append(renderMrkdwn(m.text, app.mrkdwnCtx));
    if (m.edited) text.append(h('span', { class: 'msg-edited', title: m.edited.ts ? `Edited ${formatFull(tsDate(m.edited.ts))}` : 'Edited' }, ' (edited)'));
    if (m.is_ephemeral) body.append(h('div', { class: 'msg-ephemeral' }, 'Only visible to you'));
    if (isReply(m) && m.reply_broadcast && !inThread) {
      body.append(h('div', { class: 'msg-broadcast' },
        h('button', { type: 'button', class: 'linkish', onclick: () => app.openThread(m.channel, m.thread_ts) }, 'replied to a thread')));
    }
    body.append(text);
  }
  const attachments = renderAttachments(m.attachments, ctx);
  if (attachments) body.append(attachments);
  const files = renderFiles(app, m);
  if (files) body.append(files);
  const reactions = renderReactions(app, m);
  if (reactions) body.append(reactions);
  if (!inThread || searchHit) {
    const link = renderThreadLink(app, m);
    if (link) body.append(link);
  }
  el.append(body);

  if (!system && !searchHit) {
    const actions = h('div', { class: 'msg-actions', role: 'toolbar', 'aria-label': 'Message actions' });
    actions.append(h('button', {
      type: 'button', class: 'icon-btn', 'aria-label': 'Add reaction', title: 'Add reaction',
      onclick: (e) => app.pickReaction(m, e.currentTarget),
    }, icon('reaction')));
    if (!inThread && !isReply(m)) {
      actions.append(h('button', {
        type: 'button', class: 'icon-btn', 'aria-label': 'Reply in thread', title: 'Reply in thread',
        onclick: () => app.openThread(m.channel, m.ts),
      }, icon('thread')));
    }
    if (mine) {
      actions.append(h('button', {
        type: 'button', class: 'icon-btn', 'aria-label': 'Edit message', title: 'Edit',
        onclick: () => app.startEdit(m, inThread),
      }, icon('edit')));
    }
    if (mine || (app.selfUser() && app.selfUser().is_admin)) {
      actions.append(h('button', {
        type: 'button', class: 'icon-btn danger', 'aria-label': 'Delete message', title: 'Delete',
        onclick: () => app.deleteMessage(m),
      }, icon('trash')));
    }
    el.append(actions);
  }
  return el;
}

// A scrolling list of messages: a channel's history, or one thread.
export class MessageView {
  constructor(app, { mode, channel, threadTs = null, list, scroller, onScrollTop }) {
    this.app = app;
    this.mode = mode;            // 'channel' | 'thread'
    this.channel = channel;
    this.threadTs = threadTs;
    this.list = list;
    this.scroller = scroller;
    this.onScrollTop = onScrollTop;
    this.inner = h('div', { class: 'msg-list' });
    this.head = h('div', { class: 'msg-list-head' });
    this.nodes = new Map();
    this.atBottom = true;
    this.editor = null;          // { ts, el }
    this.newPill = null;
    clear(scroller);
    scroller.append(this.head, this.inner);
    this._onScroll = () => this.handleScroll();
    scroller.addEventListener('scroll', this._onScroll, { passive: true });
  }

  destroy() {
    this.scroller.removeEventListener('scroll', this._onScroll);
  }

  handleScroll() {
    const s = this.scroller;
    this.atBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 80;
    if (this.atBottom) this.hideNewPill();
    if (s.scrollTop < 400 && this.onScrollTop) this.onScrollTop();
  }

  setHead(node) {
    clear(this.head);
    if (node) this.head.append(node);
  }

  // Renders everything again, keeping what the reader looks at in place.
  render({ keep = true } = {}) {
    const anchor = keep && !this.atBottom ? this.anchor() : null;
    const wasBottom = this.atBottom;
    clear(this.inner);
    this.nodes.clear();
    let prev = null;
    let lastDay = null;
    const items = this.list.items;
    for (let i = 0; i < items.length; i++) {
      const m = items[i];
      if (this.mode === 'channel' && isReply(m) && !m.reply_broadcast) continue;
      const d = dayKey(tsDate(m.ts));
      const isParent = this.mode === 'thread' && m.ts === this.threadTs;
      if (d !== lastDay) {
        this.inner.append(this.daySep(m.ts));
        lastDay = d;
        prev = null;
      }
      const node = this.renderOne(m, canGroup(prev, m) && !(this.mode === 'thread' && prev && prev.ts === this.threadTs));
      this.inner.append(node);
      if (isParent) this.inner.append(this.replySep(m));
      prev = m;
    }
    if (anchor) this.restore(anchor);
    else if (wasBottom) this.scrollToBottom();
  }

  renderOne(m, grouped) {
    const editor = this.editor && this.editor.ts === m.ts ? this.editor.el : null;
    const node = renderMessage(this.app, m, { grouped, inThread: this.mode === 'thread', editor });
    if (this.mode === 'thread' && m.ts === this.threadTs) node.classList.add('thread-parent');
    this.nodes.set(m.ts, node);
    return node;
  }

  daySep(ts) {
    const label = formatDay(tsDate(ts));
    return h('div', { class: 'day-sep', role: 'separator', 'aria-label': label }, h('span', null, label));
  }

  replySep(parent) {
    const n = Math.max(parent.reply_count || 0, this.list.size - 1);
    return h('div', { class: 'reply-sep', role: 'separator' },
      h('span', null, `${n} ${n === 1 ? 'reply' : 'replies'}`));
  }

  anchor() {
    const top = this.scroller.getBoundingClientRect().top;
    for (const [ts, node] of this.nodes) {
      const r = node.getBoundingClientRect();
      if (r.bottom > top) return { ts, offset: r.top - top };
    }
    return null;
  }

  restore(a) {
    const node = this.nodes.get(a.ts);
    if (!node) return;
    const top = this.scroller.getBoundingClientRect().top;
    this.scroller.scrollTop += node.getBoundingClientRect().top - top - a.offset;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.atBottom = true;
    this.hideNewPill();
  }

  // A message was added or changed in the list.
  apply(result, { own = false } = {}) {
    if (result.kind === 'same') return;
    const m = result.message;
    if (this.mode === 'channel' && isReply(m) && !m.reply_broadcast) return;
    const items = this.list.items;
    const last = items[items.length - 1];
    if (result.kind === 'added' && last && last.ts === m.ts) {
      // The common case: a new message at the end.
      let prev = null;
      for (let i = items.length - 2; i >= 0; i--) {
        const p = items[i];
        if (this.mode === 'channel' && isReply(p) && !p.reply_broadcast) continue;
        prev = p;
        break;
      }
      const wasBottom = this.atBottom;
      if (!prev || dayKey(tsDate(prev.ts)) !== dayKey(tsDate(m.ts))) {
        this.inner.append(this.daySep(m.ts));
        prev = null;
      }
      const grouped = canGroup(prev, m) && !(this.mode === 'thread' && prev && prev.ts === this.threadTs);
      this.inner.append(this.renderOne(m, grouped));
      if (this.mode === 'thread') this.updateReplySep();
      if (own || wasBottom) this.scrollToBottom();
      else this.showNewPill();
      return;
    }
    if (result.kind === 'updated' && this.nodes.has(m.ts)) {
      const old = this.nodes.get(m.ts);
      const grouped = old.classList.contains('grouped');
      const hadFocus = old.contains(document.activeElement);
      const focusLabel = hadFocus ? document.activeElement.getAttribute('aria-label') : null;
      const node = this.renderOne(m, grouped);
      if (old.classList.contains('thread-parent')) node.classList.add('thread-parent');
      if (old.classList.contains('flash')) node.classList.add('flash');
      const wasBottom = this.atBottom;
      old.replaceWith(node);
      if (this.mode === 'thread' && m.ts === this.threadTs) this.updateReplySep();
      if (hadFocus) {
        const again = focusLabel && Array.from(node.querySelectorAll('button')).find((b) => b.getAttribute('aria-label') === focusLabel);
        (again || node).focus({ preventScroll: true });
      }
      if (wasBottom) this.scrollToBottom();
      return;
    }
    this.render();
  }

  removed(ts) {
    if (!this.nodes.has(ts)) return;
    this.render();
  }

  updateReplySep() {
    const sep = this.inner.querySelector('.reply-sep');
    const parent = this.list.get(this.threadTs);
    if (sep && parent) sep.replaceWith(this.replySep(parent));
  }

  showNewPill() {
    if (this.newPill) return;
    this.newPill = h('button', {
      type: 'button', class: 'new-pill', onclick: () => this.scrollToBottom(),
    }, 'New messages ↓');
    this.scroller.parentElement.append(this.newPill);
  }

  hideNewPill() {
    if (this.newPill) {
      this.newPill.remove();
      this.newPill = null;
    }
  }

  highlight(ts) {
    const node = this.nodes.get(ts);
    if (!node) return false;
    node.scrollIntoView({ block: 'center' });
    node.classList.remove('flash');
    void node.offsetWidth; // restart the animation
    node.classList.add('flash');
    node.focus({ preventScroll: true });
    setTimeout(() => node.classList.remove('flash'), 2500);
    this.handleScroll();
    return true;
  }
}
