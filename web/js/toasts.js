// Short notices in the corner (#toasts), and how an API error becomes one.
// Its methods are mixed into the App (app.js) and share its state.

import { ApiError, explain } from './api.js';
import { h } from './dom.js';

export const toastMethods = {
  toast(text, kind = 'error') {
    const box = document.getElementById('toasts');
    const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
    box.append(t);
    setTimeout(() => t.remove(), 6000);
  },

  fail(err) {
    if (err instanceof ApiError && (err.code === 'invalid_auth' || err.code === 'not_authed')) return;
    this.toast(explain(err));
  },
};
