// What apps post: Slack Block Kit `blocks` and legacy `attachments` as DOM.
//
// Everything here comes from a message, so none of it is trusted: text goes
// in as text nodes (h() and renderMrkdwn), only absolute http(s) URLs become
// links and images, and every list is capped, as is the whole message (a
// budget of nodes and characters), so a hostile message cannot stall the
// page. Unknown block types are skipped; controls this client cannot work
// (selects, date pickers, …) are drawn disabled, so nothing vanishes.
//
// Buttons without a url carry data-action-id, data-block-id and data-value;
// clicking one calls the handler given to onBlockAction(), if any (app.js
// sends the click to the app that posted the message: blocks.actions).

import { h, httpUrl, safeUrl, tsDate, formatWhen, formatFull } from './dom.js';
import { renderMrkdwn, unescapeText } from './mrkdwn.js';
import { emojiChar } from './emoji.js';

export const LIMITS = {
  blocks: 50,          // per message, and per attachment
  attachments: 100,
  fields: 10,          // per section
  attachmentFields: 20,
  elements: 25,        // per actions block
  contextElements: 10,
  options: 10,         // options shown for checkboxes and radio buttons
  richElements: 200,   // inline elements per rich text section
  listItems: 100,
  text: 3000,          // characters of one piece of text
  nodes: 4000,         // per message: blocks, elements, fields, …
  chars: 100000,       // per message, all text together
};

const BAR_COLOURS = { good: '#2eb67d', warning: '#ecb22e', danger: '#e01e5a' };

let actionHandler = null;

// The one hook for interactive elements: fn({ type, action_id, block_id,
// value, message, view, element }) runs when a button without a url is
// clicked (in a message: message is set; in an app's modal: view is).
export function onBlockAction(fn) {
  actionHandler = typeof fn === 'function' ? fn : null;
}

// What one message's rendering shares: how to draw mrkdwn, the message (for
// the action hook), and what is left of its budget.
export function blockContext(mrkdwn, { message = null, view = null, onImageLoad = null } = {}) {
  return { mrkdwn, message, view, onImageLoad, nodes: LIMITS.nodes, chars: LIMITS.chars };
}

function spend(ctx) {
  if (ctx.nodes <= 0) return false;
  ctx.nodes--;
  return true;
}

const list = (v, max) => (Array.isArray(v) ? v.slice(0, max) : []);
const isObj = (v) => !!v && typeof v === 'object' && !Array.isArray(v);

// A string from the message, cut to size and charged to the budget.
function clip(ctx, v, max = LIMITS.text) {
  let s = typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : '';
  if (s.length > max) s = `${s.slice(0, max)}…`;
  if (s.length > ctx.chars) s = ctx.chars > 0 ? `${s.slice(0, ctx.chars)}…` : '';
  ctx.chars -= s.length;
  return s;
}

function emojify(s) {
  return s.replace(/:([a-z0-9_+-]{1,40}):/g, (all, name) => emojiChar(name) || all);
}

// A text object: { type: "mrkdwn" | "plain_text", text, emoji }.
function textObject(t, ctx, max = LIMITS.text) {
  if (!isObj(t)) return null;
  const s = clip(ctx, t.text, max);
  if (!s) return null;
  if (t.type === 'mrkdwn') return renderMrkdwn(s, ctx.mrkdwn);
  return document.createTextNode(t.emoji === false ? s : emojify(s));
}

// Legacy attachment text: mrkdwn, or as it is (Slack's three escapes undone).
function attText(ctx, v, md, max = LIMITS.text) {
  const s = clip(ctx, v, max);
  if (!s) return null;
  return md ? renderMrkdwn(s, ctx.mrkdwn) : document.createTextNode(unescapeText(s));
}

// An app's image. `broken` is what replaces it when it does not load:
// 'alt' shows the alt text, anything else removes it.
function image(ctx, raw, alt, cls, broken = 'hide') {
  const src = httpUrl(raw);
  if (!src) return null;
  // referrerpolicy and loading before src, so the first request obeys them
  const img = h('img', {
    referrerpolicy: 'no-referrer', loading: 'lazy', decoding: 'async', class: cls, alt: alt || '', src,
  });
  img.addEventListener('load', () => { if (ctx.onImageLoad) ctx.onImageLoad(img); });
  img.addEventListener('error', () => {
    if (broken === 'alt') img.replaceWith(h('span', { class: 'blk-broken' }, alt ? `[${alt}]` : '[image]'));
    else img.remove();
  });
  return img;
}

function link(href, ...children) {
  return h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, ...children);
}

function imageLink(img, alt) {
  return h('a', {
    href: img.src, target: '_blank', rel: 'noopener noreferrer nofollow', 'aria-label': alt ? `Open image ${alt}` : 'Open image',
  }, img);
}

// -------------------------------------------------------------- elements ---

const SELECTS = new Set([
  'static_select', 'multi_static_select', 'external_select', 'multi_external_select',
  'users_select', 'multi_users_select', 'conversations_select', 'multi_conversations_select',
  'channels_select', 'multi_channels_select', 'plain_text_input', 'email_text_input',
  'url_text_input', 'number_input', 'rich_text_input', 'file_input',
]);

function button(e, blockId, ctx) {
  const label = clip(ctx, isObj(e.text) ? e.text.text : e.text, 75) || 'Button';
  const style = e.style === 'primary' ? ' btn-primary' : e.style === 'danger' ? ' btn-danger' : '';
  const cls = `btn btn-sm blk-button${style}`;
  // A url we will not follow (javascript:, data:, …) is dropped: the label
  // stays, as a button without one.
  const href = httpUrl(e.url);
  if (href) return h('a', { class: cls, href, target: '_blank', rel: 'noopener noreferrer' }, emojify(label));
  const value = clip(ctx, e.value, 2000);
  const actionId = clip(ctx, e.action_id ?? e.name, 255);
  const el = h('button', {
    type: 'button', class: cls,
    dataset: { actionId, blockId: blockId || '', value },
  }, emojify(label));
  el.addEventListener('click', () => {
    if (actionHandler) {
      actionHandler({
        type: 'button', action_id: actionId, block_id: blockId || '', value, message: ctx.message, view: ctx.view, element: el,
      });
    }
  });
  return el;
}

// Controls this client cannot work: drawn disabled, with what they would say.
function disabledControl(label, cls = '') {
  return h('button', {
    type: 'button', class: `blk-control ${cls}`.trim(), disabled: true,
    title: 'Not available in this client',
  }, h('span', { class: 'blk-control-label' }, label),
  cls === 'blk-overflow' ? null : h('span', { class: 'blk-caret', 'aria-hidden': 'true' }, '▾'));
}

function optionText(ctx, o) {
  return isObj(o) && isObj(o.text) ? clip(ctx, o.text.text, 75) : '';
}

function element(e, blockId, ctx) {
  if (!isObj(e)) return null;
  const placeholder = () => (isObj(e.placeholder) ? clip(ctx, e.placeholder.text, 150) : '');
  if (e.type === 'button') return button(e, blockId, ctx);
  if (SELECTS.has(e.type)) {
    const initial = optionText(ctx, e.initial_option) ||
      list(e.initial_options, 3).map((o) => optionText(ctx, o)).filter(Boolean).join(', ');
    return disabledControl(initial || placeholder() || 'Select…');
  }
  if (e.type === 'overflow') {
    const el = disabledControl('⋯', 'blk-overflow');
    el.setAttribute('aria-label', 'More options');
    return el;
  }
  if (e.type === 'datepicker') return disabledControl(clip(ctx, e.initial_date, 20) || placeholder() || 'Pick a date');
  if (e.type === 'timepicker') return disabledControl(clip(ctx, e.initial_time, 20) || placeholder() || 'Pick a time');
  if (e.type === 'datetimepicker') {
    const t = Number(e.initial_date_time);
    return disabledControl(t > 0 && t < 1e11 ? formatWhen(new Date(t * 1000)) : 'Pick a date and time');
  }
  if (e.type === 'checkboxes' || e.type === 'radio_buttons') {
    const mark = e.type === 'checkboxes' ? '☐' : '○';
    const box = h('div', { class: 'blk-options', 'aria-disabled': 'true' });
    for (const o of list(e.options, LIMITS.options)) {
      const text = optionText(ctx, o);
      if (text) box.append(h('div', { class: 'blk-option' }, h('span', { 'aria-hidden': 'true' }, `${mark} `), text));
    }
    return box.firstChild ? box : null;
  }
  if (e.type === 'image') return image(ctx, e.image_url, clip(ctx, e.alt_text, 500), 'blk-thumb');
  return null;
}

// ---------------------------------------------------------------- blocks ---

function section(b, ctx) {
  const main = h('div', { class: 'blk-section-main' });
  const text = textObject(b.text, ctx);
  if (text) main.append(h('div', { class: 'blk-text' }, text));
  const fields = h('div', { class: 'blk-fields' });
  for (const f of list(b.fields, LIMITS.fields)) {
    if (!spend(ctx)) break;
    const node = textObject(f, ctx, 2000);
    if (node) fields.append(h('div', { class: 'blk-field' }, node));
  }
  if (fields.firstChild) main.append(fields);
  const acc = spend(ctx) ? element(b.accessory, clip(ctx, b.block_id, 255), ctx) : null;
  if (!main.firstChild && !acc) return null;
  return h('div', { class: 'blk blk-section' }, main, acc ? h('div', { class: 'blk-accessory' }, acc) : null);
}

function header(b, ctx) {
  const text = textObject(b.text, ctx, 150);
  return text ? h('div', { class: 'blk blk-header', role: 'heading', 'aria-level': '3' }, text) : null;
}

function context(b, ctx) {
  const el = h('div', { class: 'blk blk-context' });
  for (const e of list(b.elements, LIMITS.contextElements)) {
    if (!isObj(e) || !spend(ctx)) continue;
    const node = e.type === 'image'
      ? image(ctx, e.image_url, clip(ctx, e.alt_text, 500), 'blk-context-img')
      : textObject(e, ctx);
    if (node) el.append(e.type === 'image' ? node : h('span', { class: 'blk-context-text' }, node));
  }
  return el.firstChild ? el : null;
}

function divider() {
  return h('hr', { class: 'blk blk-divider' });
}

function imageBlock(b, ctx) {
  const alt = clip(ctx, b.alt_text, 2000);
  const title = textObject(b.title, ctx, 2000);
  const img = image(ctx, b.image_url, alt, 'blk-image-img', 'alt');
  if (!img && !title && !alt) return null;
  return h('figure', { class: 'blk blk-image' },
    title ? h('figcaption', { class: 'blk-image-title' }, title) : null,
    img ? imageLink(img, alt) : h('span', { class: 'blk-broken' }, alt ? `[${alt}]` : '[image]'));
}

function actions(b, ctx) {
  const blockId = clip(ctx, b.block_id, 255);
  const el = h('div', { class: 'blk blk-actions', role: 'group' });
  for (const e of list(b.elements, LIMITS.elements)) {
    if (!spend(ctx)) break;
    const node = element(e, blockId, ctx);
    if (node) el.append(node);
  }
  return el.firstChild ? el : null;
}

// ------------------------------------------------------------- rich text ---

function styled(node, style) {
  if (!isObj(style)) return node;
  let out = node;
  if (style.code) out = h('code', { class: 'inline-code' }, out);
  if (style.strike) out = h('s', null, out);
  if (style.italic) out = h('em', null, out);
  if (style.bold) out = h('strong', null, out);
  return out;
}

function unicodeEmoji(code) {
  if (typeof code !== 'string') return null;
  const parts = code.split('-');
  if (parts.length > 10 || !parts.every((p) => /^[0-9a-f]{1,6}$/i.test(p))) return null;
  const points = parts.map((p) => parseInt(p, 16));
  if (points.some((n) => n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff))) return null;
  return String.fromCodePoint(...points);
}

function richElement(e, ctx, plain) {
  let node = null;
  switch (e.type) {
    case 'text':
      node = document.createTextNode(clip(ctx, e.text));
      break;
    case 'link': {
      const url = clip(ctx, e.url, 4096);
      const href = /^(https?:|mailto:)/i.test(url) ? safeUrl(url) : null;
      const label = clip(ctx, e.text) || url;
      node = href ? link(href, label) : document.createTextNode(label);
      break;
    }
    case 'user':
      if (typeof e.user_id === 'string' && /^[UW][A-Z0-9]{1,30}$/.test(e.user_id)) node = renderMrkdwn(`<@${e.user_id}>`, ctx.mrkdwn);
      break;
    case 'channel':
      if (typeof e.channel_id === 'string' && /^[CGD][A-Z0-9]{1,30}$/.test(e.channel_id)) node = renderMrkdwn(`<#${e.channel_id}>`, ctx.mrkdwn);
      break;
    case 'usergroup':
      if (typeof e.usergroup_id === 'string') node = h('span', { class: 'mention' }, `@${clip(ctx, e.usergroup_id, 40)}`);
      break;
    case 'broadcast':
      if (['here', 'channel', 'everyone'].includes(e.range)) node = renderMrkdwn(`<!${e.range}>`, ctx.mrkdwn);
      break;
    case 'emoji': {
      const name = typeof e.name === 'string' && /^[a-z0-9_+-]{1,40}$/.test(e.name) ? e.name : '';
      const ch = emojiChar(name) || unicodeEmoji(e.unicode);
      if (ch) node = h('span', { class: 'emoji', title: `:${name}:`, role: 'img', 'aria-label': name.replace(/_/g, ' ') || 'emoji' }, ch);
      else if (name) node = document.createTextNode(`:${name}:`);
      break;
    }
    case 'date': {
      const t = Number(e.timestamp);
      const fallback = clip(ctx, e.fallback, 200);
      if (Number.isFinite(t) && t > 0 && t < 1e11) {
        const d = new Date(t * 1000);
        node = h('time', { datetime: d.toISOString(), title: formatFull(d) }, formatWhen(d));
      } else if (fallback) {
        node = document.createTextNode(fallback);
      }
      break;
    }
    case 'color':
      node = document.createTextNode(clip(ctx, e.value, 20));
      break;
    default:
      return null;
  }
  return node && !plain ? styled(node, e.style) : node;
}

function richInline(elements, ctx, out, plain = false) {
  for (const e of list(elements, LIMITS.richElements)) {
    if (!isObj(e) || !spend(ctx)) continue;
    const node = richElement(e, ctx, plain);
    if (node) out.append(node);
  }
  return out;
}

function richPart(e, ctx) {
  switch (e.type) {
    case 'rich_text_section': return richInline(e.elements, ctx, h('div', { class: 'rt-section' }));
    case 'rich_text_quote': return richInline(e.elements, ctx, h('blockquote', { class: 'rt-quote' }));
    case 'rich_text_preformatted':
      return h('pre', { class: 'code-block rt-pre' }, richInline(e.elements, ctx, h('code'), true));
    case 'rich_text_list': {
      const ordered = e.style === 'ordered';
      const indent = Math.min(8, Math.max(0, Math.trunc(Number(e.indent)) || 0));
      const offset = Math.min(1e6, Math.max(0, Math.trunc(Number(e.offset)) || 0));
      const el = h(ordered ? 'ol' : 'ul', { class: `rt-list rt-i${indent % 3}`, start: ordered && offset ? offset + 1 : null });
      el.style.setProperty('--rt-indent', String(indent));
      for (const item of list(e.elements, LIMITS.listItems)) {
        if (!isObj(item) || !spend(ctx)) continue;
        el.append(richInline(item.elements, ctx, h('li')));
      }
      return el.firstChild ? el : null;
    }
    default:
      return null;
  }
}

function richText(b, ctx) {
  const el = h('div', { class: 'blk blk-rich' });
  for (const e of list(b.elements, LIMITS.blocks)) {
    if (!isObj(e) || !spend(ctx)) continue;
    const node = richPart(e, ctx);
    if (node) el.append(node);
  }
  return el.firstChild ? el : null;
}

const BLOCK_TYPES = {
  section, header, context, divider, image: imageBlock, actions, rich_text: richText,
};

// A message's (or an attachment's) blocks, or null when none can be shown.
export function renderBlocks(blocks, ctx) {
  const wrap = h('div', { class: 'blocks' });
  for (const b of list(blocks, LIMITS.blocks)) {
    if (!isObj(b) || typeof b.type !== 'string' || !Object.hasOwn(BLOCK_TYPES, b.type)) continue;
    if (!spend(ctx)) break;
    const node = BLOCK_TYPES[b.type](b, ctx);
    if (node) wrap.append(node);
  }
  return wrap.firstChild ? wrap : null;
}

// ----------------------------------------------------------- attachments ---

function barColour(c) {
  if (typeof c !== 'string') return null;
  if (Object.hasOwn(BAR_COLOURS, c)) return BAR_COLOURS[c];
  const m = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(c.trim());
  return m ? `#${m[1]}` : null;
}

function tsTime(ts) {
  const t = Number(ts);
  if (!Number.isFinite(t) || t <= 0 || t > 1e11) return null;
  const d = tsDate(String(t));
  return h('time', { datetime: d.toISOString(), title: formatFull(d) }, formatWhen(d));
}

// The legacy `actions` of an attachment: buttons with a plain string label.
function legacyActions(a, ctx) {
  const el = h('div', { class: 'blk-actions', role: 'group' });
  for (const e of list(a.actions, LIMITS.elements)) {
    if (!isObj(e) || !spend(ctx)) continue;
    if (e.type === 'button') el.append(button(e, clip(ctx, a.callback_id, 255), ctx));
    else if (e.type === 'select') el.append(disabledControl(clip(ctx, e.text, 75) || 'Select…'));
  }
  return el.firstChild ? el : null;
}

function attachment(a, ctx) {
  const mdIn = Array.isArray(a.mrkdwn_in) ? a.mrkdwn_in.slice(0, 10) : null;
  const md = (field) => field === 'text' || !mdIn || mdIn.includes(field);
  const body = h('div', { class: 'att-body' });

  const authorName = clip(ctx, a.author_name || a.service_name, 255);
  if (authorName) {
    const href = httpUrl(a.author_link);
    body.append(h('div', { class: 'att-author' },
      image(ctx, a.author_icon || a.service_icon, '', 'att-icon'),
      href ? link(href, authorName) : h('span', null, authorName)));
  }
  const title = clip(ctx, a.title, 500);
  if (title) {
    const href = httpUrl(a.title_link);
    body.append(h('div', { class: 'att-title' }, href ? link(href, unescapeText(title)) : unescapeText(title)));
  }
  const text = attText(ctx, a.text, md('text'), 8000);
  if (text) body.append(h('div', { class: 'att-text' }, text));

  const fields = h('div', { class: 'att-fields' });
  for (const f of list(a.fields, LIMITS.attachmentFields)) {
    if (!isObj(f) || !spend(ctx)) continue;
    const name = clip(ctx, f.title, 255);
    const value = attText(ctx, f.value, md('fields'), 2000);
    if (!name && !value) continue;
    fields.append(h('div', { class: f.short ? 'att-field short' : 'att-field' },
      name ? h('div', { class: 'att-field-title' }, unescapeText(name)) : null,
      value ? h('div', { class: 'att-field-value' }, value) : null));
  }
  if (fields.firstChild) body.append(fields);

  const img = image(ctx, a.image_url, title || 'image', 'att-image', 'alt');
  if (img) body.append(h('div', { class: 'att-image-wrap' }, imageLink(img, title)));
  const blocks = renderBlocks(a.blocks, ctx);
  if (blocks) body.append(blocks);
  const acts = legacyActions(a, ctx);
  if (acts) body.append(acts);

  const footer = attText(ctx, a.footer, true, 300);
  const when = tsTime(a.ts);
  if (footer || when) {
    body.append(h('div', { class: 'att-footer' },
      image(ctx, a.footer_icon, '', 'att-icon'),
      footer ? h('span', null, footer) : null,
      footer && when ? h('span', { 'aria-hidden': 'true' }, ' · ') : null,
      when));
  }
  const thumb = image(ctx, a.thumb_url, '', 'att-thumb');
  if (!body.firstChild && !thumb) {
    const fallback = clip(ctx, a.fallback);
    if (!fallback) return null;
    body.append(h('div', { class: 'att-text' }, unescapeText(fallback)));
  }

  const box = h('div', { class: 'att-box' }, body, thumb);
  const colour = barColour(a.color);
  if (colour) box.style.setProperty('--att-colour', colour);
  const pretext = attText(ctx, a.pretext, md('pretext'));
  return h('div', { class: 'att' }, pretext ? h('div', { class: 'att-pretext' }, pretext) : null, box);
}

// A message's attachments, or null when none can be shown.
export function renderAttachments(attachments, ctx) {
  const wrap = h('div', { class: 'attachments' });
  for (const a of list(attachments, LIMITS.attachments)) {
    if (!isObj(a) || !spend(ctx)) continue;
    const node = attachment(a, ctx);
    if (node) wrap.append(node);
  }
  return wrap.firstChild ? wrap : null;
}
