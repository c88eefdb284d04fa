// The message composer: Enter sends, Shift+Enter is a newline, Up edits
// your last message, @ completes names, the paperclip attaches files.

import { icon } from './icons.js';
import { h } from './dom.js';

const TYPING_EVERY_MS = 3000;
let composerSeq = 0;

function autosize(ta, max = 240) {
  ta.style.height = 'auto';
  ta.style.height = `${Math.min(ta.scrollHeight + 2, max)}px`;
}

// @-completion attached to a textarea.
class Completer {
  constructor(app, ta, host) {
    this.app = app;
    this.ta = ta;
    this.id = `complete-${++composerSeq}`;
    this.box = h('ul', { class: 'completer', role: 'listbox', id: this.id, 'aria-label': 'People', hidden: true });
    host.append(this.box);
    this.items = [];
    this.active = 0;
    ta.setAttribute('aria-autocomplete', 'list');
    ta.setAttribute('aria-controls', this.id);
    ta.setAttribute('aria-expanded', 'false');
  }

  get open() {
    return !this.box.hidden;
  }

  token() {
    const caret = this.ta.selectionStart;
    if (caret !== this.ta.selectionEnd) return null;
    const before = this.ta.value.slice(0, caret);
    const m = /(^|[\s(])@([\p{L}\p{N}._-]{0,40})$/u.exec(before);
    if (!m) return null;
    return { start: caret - m[2].length - 1, end: caret, query: m[2].toLowerCase() };
  }

  update() {
    const t = this.token();
    if (!t) return this.close();
    const out = [];
    for (const u of this.app.store.users.values()) {
      if (u.deleted || u.id === this.app.store.self.id) continue;
      const names = [u.name, u.real_name, u.profile && u.profile.display_name].filter(Boolean).map((s) => s.toLowerCase());
      const words = names.flatMap((n) => n.split(/\s+/));
      if (!t.query || names.some((n) => n.startsWith(t.query)) || words.some((w) => w.startsWith(t.query))) {
        out.push({ handle: u.name, label: this.app.store.userName(u.id), id: u.id });
      }
      if (out.length >= 6) break;
    }
    for (const special of ['here', 'channel']) {
      if (special.startsWith(t.query) && t.query.length > 0) out.push({ handle: special, label: `Notify everyone ${special === 'here' ? 'online' : 'in the channel'}` });
    }
    if (out.length === 0) return this.close();
    this.items = out;
    this.active = Math.min(this.active, out.length - 1);
    this.draw();
    this.box.hidden = false;
    this.ta.setAttribute('aria-expanded', 'true');
    return undefined;
  }

  draw() {
    this.box.replaceChildren(...this.items.map((it, i) => h('li', {
      id: `${this.id}-${i}`,
      role: 'option',
      class: i === this.active ? 'active' : '',
      'aria-selected': i === this.active ? 'true' : 'false',
      onmousedown: (e) => { e.preventDefault(); this.choose(i); },
    }, h('strong', null, `@${it.handle}`), ' ', h('span', { class: 'muted' }, it.label))));
    this.ta.setAttribute('aria-activedescendant', `${this.id}-${this.active}`);
  }

  close() {
    this.box.hidden = true;
    this.items = [];
    this.active = 0;
    this.ta.setAttribute('aria-expanded', 'false');
    this.ta.removeAttribute('aria-activedescendant');
  }

  choose(i) {
    const t = this.token();
    const it = this.items[i];
    if (!t || !it) return this.close();
    const v = this.ta.value;
    const insert = `@${it.handle} `;
    this.ta.value = v.slice(0, t.start) + insert + v.slice(t.end);
    const caret = t.start + insert.length;
    this.ta.setSelectionRange(caret, caret);
    this.close();
    this.ta.dispatchEvent(new Event('input'));
    return undefined;
  }

  // Returns true when it used the key.
  key(e) {
    if (!this.open) return false;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const n = this.items.length;
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : n - 1)) % n;
      this.draw();
      return true;
    }
    if ((e.key === 'Enter' && !e.shiftKey) || e.key === 'Tab') {
      this.choose(this.active);
      return true;
    }
    if (e.key === 'Escape') {
      this.close();
      return true;
    }
    return false;
  }
}

export class Composer {
  constructor(app, { channel, threadTs = null, label, placeholder, id }) {
    this.app = app;
    this.channel = channel;
    this.threadTs = threadTs;
    this.lastTyping = 0;
    this.queue = Promise.resolve();

    this.ta = h('textarea', {
      id, class: 'composer-input', rows: '1', 'aria-label': label, placeholder,
      autocomplete: 'off', spellcheck: 'true', enterkeyhint: 'send',
    });
    this.file = h('input', { type: 'file', multiple: true, hidden: true, tabindex: '-1', 'aria-hidden': 'true' });
    this.uploads = h('div', { class: 'uploads', 'aria-live': 'polite' });
    this.broadcast = null;
    const attach = h('button', {
      type: 'button', class: 'icon-btn attach', 'aria-label': 'Attach files', title: 'Attach files',
      onclick: () => this.file.click(),
    }, icon('attach', { size: 20 }));
    const send = h('button', { type: 'submit', class: 'icon-btn send', 'aria-label': 'Send message', title: 'Send (Enter)' },
      icon('send', { size: 20 }));
    const box = h('div', { class: 'composer-box' }, attach, this.ta, send);
    this.el = h('form', { class: 'composer', 'aria-label': label }, this.uploads, box, this.file);
    if (threadTs) {
      this.broadcast = h('input', { type: 'checkbox', id: `${id}-bc` });
      this.el.append(h('label', { class: 'broadcast', for: `${id}-bc` }, this.broadcast,
        ` Also send to ${app.store.channelTitle(channel)}`));
    }
    this.completer = new Completer(app, this.ta, box);

    const draft = app.drafts.get(this.key());
    if (draft) this.ta.value = draft;
    this.el.addEventListener('submit', (e) => { e.preventDefault(); this.submit(); });
    this.ta.addEventListener('keydown', (e) => this.keydown(e));
    this.ta.addEventListener('input', () => this.input());
    this.ta.addEventListener('click', () => this.completer.update());
    this.ta.addEventListener('blur', () => setTimeout(() => this.completer.close(), 150));
    this.ta.addEventListener('paste', (e) => {
      const files = Array.from(e.clipboardData ? e.clipboardData.files : []);
      if (files.length) {
        e.preventDefault();
        this.app.uploadFiles(files, this.channel, this.threadTs, this.uploads);
      }
    });
    this.file.addEventListener('change', () => {
      const files = Array.from(this.file.files || []);
      this.file.value = '';
      if (files.length) this.app.uploadFiles(files, this.channel, this.threadTs, this.uploads);
    });
    requestAnimationFrame(() => autosize(this.ta));
  }

  key() {
    return this.threadTs ? `${this.channel}:${this.threadTs}` : this.channel;
  }

  focus() {
    this.ta.focus();
  }

  input() {
    autosize(this.ta);
    this.completer.update();
    const v = this.ta.value;
    if (v) this.app.drafts.set(this.key(), v);
    else this.app.drafts.delete(this.key());
    const now = Date.now();
    if (v.trim() && now - this.lastTyping > TYPING_EVERY_MS) {
      this.lastTyping = now;
      this.app.sendTyping(this.channel);
    }
  }

  keydown(e) {
    if (e.isComposing || e.keyCode === 229) return;
    if (this.completer.key(e)) {
      e.preventDefault();
      return;
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      this.submit();
      return;
    }
    if (e.key === 'ArrowUp' && this.ta.value === '' && !e.shiftKey) {
      if (this.app.editLast(this.channel, this.threadTs)) e.preventDefault();
    }
  }

  // Messages go out one after another, in the order they were typed.
  submit() {
    const text = this.ta.value;
    if (!text.trim()) return this.queue;
    const broadcast = !!(this.broadcast && this.broadcast.checked);
    if (this.broadcast) this.broadcast.checked = false;
    this.ta.value = '';
    this.app.drafts.delete(this.key());
    autosize(this.ta);
    this.completer.close();
    this.lastTyping = 0;
    this.queue = this.queue.then(async () => {
      const ok = await this.app.send(this.channel, text, { threadTs: this.threadTs, broadcast });
      if (!ok && !this.ta.value) {
        // Give the text back so nothing typed is lost.
        this.ta.value = text;
        autosize(this.ta);
      }
    });
    return this.queue;
  }
}

// The inline editor that replaces a message's text while it is edited.
export function createEditor(app, initial, { onSave, onCancel }) {
  const ta = h('textarea', { class: 'composer-input edit-input', 'aria-label': 'Edit message', rows: '1' });
  ta.value = initial;
  const save = h('button', { type: 'submit', class: 'btn btn-primary btn-sm' }, 'Save');
  const cancel = h('button', { type: 'button', class: 'btn btn-sm', onclick: () => onCancel() }, 'Cancel');
  const form = h('form', { class: 'msg-editor' }, ta,
    h('div', { class: 'msg-editor-actions' },
      h('span', { class: 'muted small' }, 'Enter to save, Escape to cancel'), cancel, save));
  const completer = new Completer(app, ta, form);
  form.addEventListener('submit', (e) => { e.preventDefault(); onSave(ta.value); });
  ta.addEventListener('input', () => { autosize(ta); completer.update(); });
  ta.addEventListener('keydown', (e) => {
    if (e.isComposing) return;
    if (completer.key(e)) { e.preventDefault(); return; }
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); onSave(ta.value); }
    if (e.key === 'Escape') { e.preventDefault(); onCancel(); }
  });
  form.focusEnd = () => {
    ta.focus();
    ta.setSelectionRange(ta.value.length, ta.value.length);
    autosize(ta);
  };
  return form;
}
