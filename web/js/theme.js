// Light and dark theme: the system's choice unless the toggle saved one
// (localStorage), shown as html[data-theme].
// Its methods are mixed into the App (app.js) and share its state.

import { icon } from './icons.js';
import { h, $$ } from './dom.js';

const THEME_KEY = 'libchat.theme';
export const DARK = window.matchMedia('(prefers-color-scheme: dark)');

export const themeMethods = {
  effectiveTheme() {
    let pref = null;
    try { pref = localStorage.getItem(THEME_KEY); } catch { /* none */ }
    if (pref === 'dark' || pref === 'light') return pref;
    return DARK.matches ? 'dark' : 'light';
  },

  applyTheme() {
    let pref = null;
    try { pref = localStorage.getItem(THEME_KEY); } catch { /* none */ }
    if (pref === 'dark' || pref === 'light') document.documentElement.dataset.theme = pref;
    else delete document.documentElement.dataset.theme;
    const dark = this.effectiveTheme() === 'dark';
    for (const b of $$('.theme-toggle')) {
      b.setAttribute('aria-pressed', dark ? 'true' : 'false');
      b.title = dark ? 'Switch to light theme' : 'Switch to dark theme';
      b.replaceChildren(icon(dark ? 'sun' : 'moon'));
    }
  },

  toggleTheme() {
    const next = this.effectiveTheme() === 'dark' ? 'light' : 'dark';
    try { localStorage.setItem(THEME_KEY, next); } catch { /* none */ }
    this.applyTheme();
  },

  themeButton() {
    const b = h('button', {
      type: 'button', class: 'icon-btn theme-toggle', 'aria-label': 'Dark theme', 'aria-pressed': 'false',
      onclick: () => this.toggleTheme(),
    }, icon('moon'));
    return b;
  },
};
