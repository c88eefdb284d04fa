// Modal dialogs on <dialog>: focus stays inside, Escape closes, focus goes
// back where it was.

import { icon } from './icons.js';
import { h } from './dom.js';

let seq = 0;

// onClose runs once, however the dialog closes (a button, Escape, close()).
export function modal({ title, body, actions = [], onSubmit = null, onClose = null, className = '' }) {
  const id = `dlg-${++seq}`;
  const returnTo = document.activeElement;
  const error = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const footer = h('div', { class: 'dialog-actions' });
  const form = h('form', { method: 'dialog', class: 'dialog-form' },
    h('header', { class: 'dialog-head' },
      h('h2', { id: `${id}-title` }, title),
      h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Close dialog', onclick: () => close() },
        icon('close'))),
    h('div', { class: 'dialog-body' }, body, error),
    footer);
  const dialog = h('dialog', { class: `dialog ${className}`, 'aria-labelledby': `${id}-title` }, form);
  for (const a of actions) {
    footer.append(h('button', {
      type: a.submit ? 'submit' : 'button',
      class: `btn ${a.primary ? 'btn-primary' : ''} ${a.danger ? 'btn-danger' : ''}`,
      value: a.value || '',
      onclick: a.submit ? null : () => (a.onClick ? a.onClick(api) : close()),
    }, a.label));
  }
  let closed = false;
  function close(value) {
    if (closed) return;
    closed = true;
    if (dialog.open) dialog.close(value);
    dialog.remove();
    if (onClose) onClose(value);
    if (returnTo && returnTo.isConnected) returnTo.focus();
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!onSubmit) return close('ok');
    const buttons = footer.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await onSubmit(api);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
    return undefined;
  });
  dialog.addEventListener('cancel', (e) => { e.preventDefault(); close(); });
  dialog.addEventListener('close', () => close());
  dialog.addEventListener('click', (e) => { if (e.target === dialog) close(); });
  const api = {
    dialog,
    close,
    showError(text) {
      error.textContent = text;
      error.hidden = !text;
    },
  };
  document.body.append(dialog);
  dialog.showModal();
  const first = dialog.querySelector('[autofocus], input:not([type=hidden]), textarea, select');
  if (first) first.focus();
  return api;
}

export function confirmDialog({ title, text, confirm = 'OK', danger = false }) {
  return new Promise((resolve) => {
    let answered = false;
    const m = modal({
      title,
      body: h('p', null, text),
      actions: [
        { label: 'Cancel', onClick: (d) => { answered = true; resolve(false); d.close(); } },
        { label: confirm, submit: true, primary: !danger, danger },
      ],
      onSubmit: (d) => { answered = true; resolve(true); d.close(); },
    });
    m.dialog.addEventListener('close', () => { if (!answered) resolve(false); });
  });
}
