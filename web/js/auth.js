// Signing in: the start-up decision (saved token or sign-in form), the
// sign-in / create-account screen, the offline screen, and signing out.
// Its methods are mixed into the App (app.js) and share its state.

import { icon } from './icons.js';
import { ApiError, explain } from './api.js';
import { h, clear } from './dom.js';

export const authMethods = {
  async boot() {
    if (this.api.token) {
      try {
        await this.startSession();
        return;
      } catch (e) {
        if (e instanceof ApiError && e.isNetwork) {
          this.renderOffline();
          return;
        }
        this.api.setToken(null);
      }
    }
    this.showAuth();
  },

  renderOffline() {
    clear(this.root);
    this.root.setAttribute('aria-busy', 'false');
    this.root.append(h('main', { class: 'auth' }, h('section', { class: 'auth-card' },
      h('h1', null, 'libchat'),
      h('p', { role: 'alert' }, 'Cannot reach the server. Retrying…'))));
    setTimeout(() => this.boot(), 3000);
  },

  showAuth(message = '', mode = 'login') {
    clear(this.root);
    this.root.setAttribute('aria-busy', 'false');
    document.title = 'Sign in · libchat';
    const error = h('p', { class: 'form-error', role: 'alert', hidden: !message }, message);
    const name = h('input', { id: 'auth-name', name: 'real_name', autocomplete: 'name', required: true, maxlength: '80' });
    const email = h('input', { id: 'auth-email', name: 'email', type: 'email', autocomplete: 'email', required: true });
    const password = h('input', { id: 'auth-password', name: 'password', type: 'password', required: true, minlength: '8' });
    const nameRow = h('div', { class: 'field' }, h('label', { for: 'auth-name' }, 'Full name'), name);
    const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' });
    const hint = h('p', { class: 'muted small', id: 'auth-pw-hint' }, 'At least 8 characters.');
    password.setAttribute('aria-describedby', 'auth-pw-hint');
    const tabLogin = h('button', { type: 'button', role: 'tab', id: 'tab-login', 'aria-controls': 'auth-form' }, 'Sign in');
    const tabSignup = h('button', { type: 'button', role: 'tab', id: 'tab-signup', 'aria-controls': 'auth-form' }, 'Create account');
    const form = h('form', { id: 'auth-form', class: 'auth-form', role: 'tabpanel', novalidate: false },
      nameRow,
      h('div', { class: 'field' }, h('label', { for: 'auth-email' }, 'Email'), email),
      h('div', { class: 'field' }, h('label', { for: 'auth-password' }, 'Password'), password, hint),
      error, submit);
    const setMode = (m, focus) => {
      mode = m;
      const signup = m === 'signup';
      tabLogin.setAttribute('aria-selected', signup ? 'false' : 'true');
      tabSignup.setAttribute('aria-selected', signup ? 'true' : 'false');
      tabLogin.tabIndex = signup ? -1 : 0;
      tabSignup.tabIndex = signup ? 0 : -1;
      form.setAttribute('aria-labelledby', signup ? 'tab-signup' : 'tab-login');
      nameRow.hidden = !signup;
      name.required = signup;
      hint.hidden = !signup;
      password.autocomplete = signup ? 'new-password' : 'current-password';
      submit.textContent = signup ? 'Create account' : 'Sign in';
      if (focus) (signup ? tabSignup : tabLogin).focus();
    };
    tabLogin.addEventListener('click', () => setMode('login'));
    tabSignup.addEventListener('click', () => setMode('signup'));
    for (const t of [tabLogin, tabSignup]) {
      t.addEventListener('keydown', (e) => {
        if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
          e.preventDefault();
          setMode(mode === 'login' ? 'signup' : 'login', true);
        }
      });
    }
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.hidden = true;
      submit.disabled = true;
      const busy = submit.textContent;
      submit.textContent = mode === 'signup' ? 'Creating account…' : 'Signing in…';
      try {
        const args = { email: email.value.trim(), password: password.value };
        if (mode === 'signup') args.real_name = name.value.trim();
        const r = await this.api.call(mode === 'signup' ? 'auth.signup' : 'auth.login', args);
        this.api.setToken(r.token);
        await this.startSession();
      } catch (err) {
        this.api.setToken(null);
        error.textContent = err.code === 'invalid_auth' ? 'Wrong email or password.' : explain(err);
        error.hidden = false;
        submit.disabled = false;
        submit.textContent = busy;
        password.focus();
      }
    });
    setMode(mode);
    const theme = this.themeButton();
    this.root.append(h('main', { class: 'auth' },
      h('div', { class: 'auth-corner' }, theme),
      h('section', { class: 'auth-card', 'aria-labelledby': 'auth-title' },
        h('div', { class: 'brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, icon('hash', { size: 20 })),
          h('h1', { id: 'auth-title' }, 'libchat')),
        h('p', { class: 'muted' }, 'Team chat on your own server.'),
        h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Sign in or create an account' }, tabLogin, tabSignup),
        form)));
    this.applyTheme();
    email.focus();
  },

  async logout() {
    try { await this.api.call('auth.revoke', {}); } catch { /* gone anyway */ }
    this.endSession('');
  },

  endSession(message) {
    if (this.rtm) this.rtm.stop();
    this.rtm = null;
    this.api.setToken(null);
    this.store.reset();
    this.drafts.clear();
    this.current = null;
    this.view = null;
    this.composer = null;
    this.panel = null;
    this.connected = false;
    this.everConnected = false;
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    this.showAuth(message);
  },
};
