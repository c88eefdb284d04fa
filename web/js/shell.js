// The page layout once signed in: top bar, sidebar, main area and side
// panel; the phone drawer; global keys; the connection indicator.
// Its methods are mixed into the App (app.js) and share its state.

import { icon } from './icons.js';
import { h, clear, $$ } from './dom.js';
import { avatar } from './messages.js';

export const PHONE = window.matchMedia('(max-width: 760px)');

export const shellMethods = {
  renderShell() {
    clear(this.root);
    const me = this.selfUser();
    this.menuBtn = h('button', {
      type: 'button', class: 'icon-btn menu-toggle', 'aria-label': 'Conversations', 'aria-expanded': 'false',
      'aria-controls': 'sidebar', onclick: () => this.toggleNav(),
    }, icon('menu', { size: 20 }));
    this.searchInput = h('input', {
      type: 'search', id: 'search-input', class: 'search-input', placeholder: 'Search messages',
      'aria-label': 'Search messages', autocomplete: 'off',
    });
    const searchForm = h('form', { class: 'search', role: 'search' }, this.searchInput);
    searchForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const q = this.searchInput.value.trim();
      if (q) this.search(q);
    });
    this.connEl = h('div', { class: 'conn', role: 'status', 'aria-live': 'polite' });
    this.topTitle = h('span', { class: 'top-title' });
    const topbar = h('header', { class: 'topbar' },
      this.menuBtn,
      h('span', { class: 'top-brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, icon('hash', { size: 16 })), 'libchat'),
      this.topTitle,
      searchForm,
      this.connEl,
      this.themeButton(),
      h('div', { class: 'me' },
        avatar(this, this.store.self.id, 'sm'),
        h('span', { class: 'me-name' }, this.store.userName(this.store.self.id) || (me && me.name) || ''),
        h('button', { type: 'button', class: 'btn btn-sm', onclick: () => this.logout() }, 'Sign out')));
    this.sidebar = h('nav', { class: 'sidebar', id: 'sidebar', 'aria-label': 'Conversations' });
    this.main = h('main', { class: 'main', id: 'main', 'aria-label': 'Conversation' });
    this.panelEl = h('aside', { class: 'panel', id: 'panel', hidden: true });
    this.backdrop = h('div', { class: 'backdrop', hidden: true, onclick: () => this.closeOverlays() });
    this.appEl = h('div', { class: 'app', id: 'app' }, topbar, this.sidebar, this.main, this.panelEl, this.backdrop);
    this.root.append(this.appEl, h('div', { id: 'sr-live', class: 'sr-only', 'aria-live': 'polite' }));
    this.applyTheme();
    this.renderSidebar();
    this.setupDrop(this.main, () => ({ channel: this.current, threadTs: null, box: this.composer && this.composer.uploads }));
    this.setupDrop(this.panelEl, () => (this.panel && this.panel.kind === 'thread'
      ? { channel: this.panel.channel, threadTs: this.panel.ts, box: this.panel.composer.uploads } : null));
    PHONE.addEventListener('change', () => this.syncNav());
    this.syncNav();
  },

  // On a phone the sidebar is a drawer; elsewhere it is always there.
  syncNav() {
    if (!this.appEl) return;
    const open = this.appEl.classList.contains('nav-open');
    const phone = PHONE.matches;
    this.menuBtn.setAttribute('aria-expanded', open ? 'true' : 'false');
    this.sidebar.inert = phone && !open;
    this.main.inert = phone && open;
    if (this.panelEl) this.panelEl.inert = phone && open;
    this.backdrop.hidden = !(phone && open);
  },

  toggleNav(force) {
    const open = force ?? !this.appEl.classList.contains('nav-open');
    this.appEl.classList.toggle('nav-open', open);
    this.syncNav();
    if (open) {
      const a = this.sidebar.querySelector('[aria-current="page"]') || this.sidebar.querySelector('a,button');
      if (a) a.focus();
    } else if (PHONE.matches) {
      this.menuBtn.focus();
    }
  },

  closeOverlays() {
    if (this.appEl.classList.contains('nav-open')) this.toggleNav(false);
    else if (PHONE.matches && this.panel) this.closePanel();
  },

  globalKey(e) {
    if (!this.appEl || !this.appEl.isConnected) return;
    if (e.key === 'Escape' && !document.querySelector('dialog[open]')) {
      if (this.picker) { this.closePicker(); e.preventDefault(); return; }
      if (this.appEl.classList.contains('nav-open')) { this.toggleNav(false); e.preventDefault(); return; }
      if (this.panel && (document.activeElement === document.body || this.panelEl.contains(document.activeElement))) {
        this.closePanel();
        e.preventDefault();
      }
      return;
    }
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'k') {
      e.preventDefault();
      this.searchInput.focus();
      this.searchInput.select();
      return;
    }
    if (e.altKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
      const ids = $$('a.conv', this.sidebar).map((a) => a.dataset.channel);
      const i = ids.indexOf(this.current);
      const next = ids[(i + (e.key === 'ArrowDown' ? 1 : ids.length - 1)) % ids.length];
      if (next) {
        e.preventDefault();
        this.go(next);
      }
    }
  },

  onRtmStatus(s) {
    this.connected = s === 'online';
    if (s === 'online') this.everConnected = true;
    if (!this.connEl) return;
    clear(this.connEl);
    this.connEl.className = `conn conn-${s}`;
    if (s === 'online') {
      this.store.presence.set(this.store.self.id, 'active');
      this.updatePresence(this.store.self.id);
      return;
    }
    if (!this.everConnected && s === 'connecting') return;
    this.connEl.append(h('span', { class: 'conn-dot', 'aria-hidden': 'true' }),
      s === 'connecting' ? 'Reconnecting…' : 'Offline — reconnecting');
  },
};
