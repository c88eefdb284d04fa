// The side panel that holds a thread, the member list or search results.
// Its methods are mixed into the App (app.js) and share its state.

import { icon } from './icons.js';
import { h, clear, $ } from './dom.js';

export const panelMethods = {
  openPanel(kind, label) {
    if (this.panel && this.panel.view) this.panel.view.destroy();
    this.panel = { kind };
    clear(this.panelEl);
    this.panelEl.hidden = false;
    this.panelEl.setAttribute('aria-label', label);
    this.appEl.classList.add('has-panel');
    this.syncNav();
    this.renderHeaderState();
    return this.panel;
  },

  closePanel() {
    if (!this.panel) return;
    const kind = this.panel.kind;
    if (this.panel.view) this.panel.view.destroy();
    this.panel = null;
    clear(this.panelEl);
    this.panelEl.hidden = true;
    this.appEl.classList.remove('has-panel');
    this.syncNav();
    this.renderHeaderState();
    if (kind === 'search') this.searchInput.focus();
    else if (this.composer) this.composer.focus();
  },

  renderHeaderState() {
    const b = $('.members-btn', this.main);
    if (b) b.setAttribute('aria-expanded', this.panel && this.panel.kind === 'members' ? 'true' : 'false');
  },

  panelHead(title, sub) {
    return h('header', { class: 'panel-head' },
      h('div', null, h('h2', { id: 'panel-title' }, title), sub ? h('div', { class: 'muted small' }, sub) : null),
      h('button', {
        type: 'button', class: 'icon-btn', 'aria-label': `Close ${title.toLowerCase()}`,
        onclick: () => this.closePanel(),
      }, icon('close')));
  },
};
