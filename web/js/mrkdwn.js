// Slack's mrkdwn to DOM nodes. Nothing here ever parses HTML: every piece
// of user text becomes a text node, and only http(s)/mailto URLs become
// links. Supported: ```code blocks```, `code`, *bold*, _italic_, ~strike~,
// <@U…> / <!here> mentions, <#C…|name> channels, <url|label> and bare links,
// :emoji: names, and "> " quotes.

import { h, safeUrl } from './dom.js';
import { emojiChar } from './emoji.js';

// Slack escapes only these three in message text.
export function unescapeText(s) {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

export function escapeText(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const INLINE = [
  // <…> tokens: mentions, channels, links
  { name: 'angle', re: /<([^<>\n]{1,1000})>/g },
  { name: 'url', re: /\bhttps?:\/\/[^\s<>"]*[^\s<>"'.,;:!?)\]}*_~]/g },
  { name: 'bold', re: /(?<![\p{L}\p{N}*])\*(?=\S)([^*\n]*?\S)\*(?![\p{L}\p{N}*])/gu },
  { name: 'italic', re: /(?<![\p{L}\p{N}_])_(?=\S)([^_\n]*?\S)_(?![\p{L}\p{N}_])/gu },
  { name: 'strike', re: /(?<![\p{L}\p{N}~])~(?=\S)([^~\n]*?\S)~(?![\p{L}\p{N}~])/gu },
  { name: 'emoji', re: /:([a-z0-9_+-]{1,40}):/g },
];

function nextMatch(text, from) {
  let best = null;
  for (const p of INLINE) {
    p.re.lastIndex = from;
    const m = p.re.exec(text);
    if (!m) continue;
    const start = m.index;
    if (!best || start < best.start) best = { p, m, start, end: m.index + m[0].length };
  }
  return best;
}

function textNode(s) {
  return document.createTextNode(unescapeText(s));
}

function renderAngle(inner, ctx) {
  const bar = inner.indexOf('|');
  const target = bar >= 0 ? inner.slice(0, bar) : inner;
  const label = bar >= 0 ? inner.slice(bar + 1) : '';
  if (/^@[UW][A-Z0-9]+$/.test(target)) {
    const id = target.slice(1);
    const name = ctx.userName(id) || unescapeText(label) || id;
    const self = id === ctx.selfId;
    return h('span', {
      class: self ? 'mention mention-self' : 'mention',
      dataset: { user: id },
      title: name,
    }, `@${name}`);
  }
  if (/^#[CGD][A-Z0-9]+$/.test(target)) {
    const id = target.slice(1);
    const name = ctx.channelName(id) || unescapeText(label) || id;
    return h('a', { class: 'channel-link', href: `#/${id}`, dataset: { channel: id } }, `#${name}`);
  }
  if (target.startsWith('!')) {
    const what = target.slice(1).split('^')[0];
    if (what === 'here' || what === 'channel' || what === 'everyone') {
      return h('span', { class: 'mention mention-self mention-broadcast' }, `@${what}`);
    }
    return null;
  }
  const href = /^(https?:\/\/|mailto:)/i.test(target) ? safeUrl(unescapeText(target)) : null;
  if (href) {
    return h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' },
      unescapeText(label || target.replace(/^mailto:/i, '')));
  }
  return null;
}

function renderInline(text, ctx, out, depth = 0) {
  let pos = 0;
  while (pos < text.length) {
    const hit = nextMatch(text, pos);
    if (!hit) break;
    const { p, m, start, end } = hit;
    let node = null;
    if (p.name === 'angle') {
      node = renderAngle(m[1], ctx);
    } else if (p.name === 'url') {
      const href = safeUrl(unescapeText(m[0]));
      if (href) node = h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, unescapeText(m[0]));
    } else if (p.name === 'emoji') {
      const ch = emojiChar(m[1]);
      if (ch) node = h('span', { class: 'emoji', title: `:${m[1]}:`, role: 'img', 'aria-label': m[1].replace(/_/g, ' ') }, ch);
    } else if (depth < 4) {
      const tag = p.name === 'bold' ? 'strong' : p.name === 'italic' ? 'em' : 's';
      node = h(tag);
      renderInline(m[1], ctx, node, depth + 1);
    }
    if (node === null) {
      // Not something we render: keep it as the text it is.
      const keep = p.name === 'angle' || p.name === 'url' ? end : start + 1;
      out.append(textNode(text.slice(pos, keep)));
      pos = keep;
      continue;
    }
    if (start > pos) out.append(textNode(text.slice(pos, start)));
    out.append(node);
    pos = end;
  }
  if (pos < text.length) out.append(textNode(text.slice(pos)));
}

// Inline code splits first: nothing inside `…` is formatted.
function renderSpan(text, ctx, out) {
  const re = /`([^`\n]+)`/g;
  let pos = 0;
  let m;
  while ((m = re.exec(text))) {
    if (m.index > pos) renderInline(text.slice(pos, m.index), ctx, out);
    out.append(h('code', { class: 'inline-code' }, unescapeText(m[1])));
    pos = m.index + m[0].length;
  }
  if (pos < text.length) renderInline(text.slice(pos), ctx, out);
}

// Lines starting with "&gt; " (an escaped "> ") are quotes.
function renderBlocks(text, ctx, out) {
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length) {
    if (/^&gt;\s?/.test(lines[i])) {
      const quote = h('blockquote');
      const body = [];
      while (i < lines.length && /^&gt;\s?/.test(lines[i])) body.push(lines[i++].replace(/^&gt;\s?/, ''));
      renderSpan(body.join('\n'), ctx, quote);
      out.append(quote);
    } else {
      const body = [];
      while (i < lines.length && !/^&gt;\s?/.test(lines[i])) body.push(lines[i++]);
      // keep the newline that separated this run from a following quote out
      renderSpan(body.join('\n'), ctx, out);
    }
  }
}

export function renderMrkdwn(text, ctx) {
  const frag = document.createDocumentFragment();
  const src = String(text ?? '');
  const re = /```([\s\S]*?)```/g;
  let pos = 0;
  let m;
  while ((m = re.exec(src))) {
    if (m.index > pos) renderBlocks(src.slice(pos, m.index).replace(/\n$/, ''), ctx, frag);
    const code = m[1].replace(/^\n/, '').replace(/\n$/, '');
    frag.append(h('pre', { class: 'code-block' }, h('code', null, unescapeText(code))));
    pos = m.index + m[0].length;
    if (src[pos] === '\n') pos++;
  }
  if (pos < src.length) renderBlocks(src.slice(pos), ctx, frag);
  return frag;
}

// What the composer shows when a message is edited: mentions back to @name.
export function toEditable(text, ctx) {
  return unescapeText(String(text ?? '').replace(/<([^<>\n]{1,1000})>/g, (all, inner) => {
    const bar = inner.indexOf('|');
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? inner.slice(bar + 1) : '';
    if (/^@[UW][A-Z0-9]+$/.test(target)) return `@${ctx.userHandle(target.slice(1)) || label || target.slice(1)}`;
    if (/^#[CGD][A-Z0-9]+$/.test(target)) return `#${ctx.channelName(target.slice(1)) || label || target.slice(1)}`;
    if (/^!(here|channel|everyone)/.test(target)) return `@${target.slice(1).split('^')[0]}`;
    if (/^(https?:\/\/|mailto:)/i.test(target)) return label && label !== target ? `${label} (${target})` : target;
    return all;
  }));
}

// What is sent: &, < and > escaped as Slack expects, @handles to <@U…>.
export function fromEditable(text, ctx) {
  let s = escapeText(text);
  s = s.replace(/(^|[\s(])@([\p{L}\p{N}._-]+)/gu, (all, pre, name) => {
    const lower = name.toLowerCase();
    if (lower === 'here' || lower === 'channel' || lower === 'everyone') return `${pre}<!${lower}>`;
    // a handle followed by punctuation ("@ada,") still counts
    let id = ctx.userByHandle(lower);
    let rest = '';
    if (!id) {
      const m = /^(.*?)([._-]+)$/.exec(name);
      if (m) {
        id = ctx.userByHandle(m[1].toLowerCase());
        rest = m[2];
      }
    }
    return id ? `${pre}<@${id}>${rest}` : all;
  });
  return s;
}

// Whether a message's text mentions the user (or everyone).
export function mentionsUser(text, userId) {
  const t = String(text ?? '');
  return t.includes(`<@${userId}>`) || t.includes(`<@${userId}|`) ||
    /<!(here|channel|everyone)(\|[^>]*)?>/.test(t);
}
