// Apps' modals (Slack's views): a view opens when an app calls views.open
// (a view_opened event), changes in place (view_updated), shows the app's
// errors under its inputs (view_errors) and goes when the app or another tab
// closes it (view_closed). Submit sends what was entered (views.submit) and
// waits for the app's answer; closing it here tells the app (views.close).
// A pushed view opens on top of the one under it, as <dialog>s stack.
//
// Everything in a view comes from an app: text goes in through blocks.js and
// h(), never as HTML, and every list is capped as a message's are.

import { h } from './dom.js';
import { modal } from './dialogs.js';
import { blockContext, renderBlocks, LIMITS } from './blocks.js';

const ANSWER_WAIT_MS = 10000; // then the person may try again

const isObj = (v) => !!v && typeof v === 'object' && !Array.isArray(v);
const text = (t, max = 3000) => (isObj(t) && typeof t.text === 'string' ? t.text.slice(0, max) : '');
const TEXT_INPUTS = { plain_text_input: 'text', email_text_input: 'email', url_text_input: 'url', number_input: 'number' };

// One input block's control, with a read() giving its state.values entry.
function inputControl(b, id) {
  const e = b.element;
  const kind = TEXT_INPUTS[e.type];
  if (kind) {
    const attrs = {
      id,
      class: 'input view-input',
      placeholder: text(e.placeholder, 150) || null,
      maxlength: Number.isInteger(e.max_length) && e.max_length > 0 ? e.max_length : 3000,
      required: !b.optional,
      'aria-describedby': `${id}-err`,
    };
    const el = e.multiline ? h('textarea', { ...attrs, rows: 4 }) : h('input', { ...attrs, type: kind });
    el.value = typeof e.initial_value === 'string' ? e.initial_value.slice(0, 3000) : '';
    return { el, read: () => (el.value ? { type: e.type, value: el.value } : null) };
  }
  if (e.type === 'static_select' || e.type === 'radio_buttons') {
    const options = (Array.isArray(e.options) ? e.options : []).slice(0, 100).filter(isObj);
    const el = h('select', { id, class: 'input view-input', required: !b.optional, 'aria-describedby': `${id}-err` },
      h('option', { value: '' }, text(e.placeholder, 150) || 'Choose…'),
      options.map((o) => h('option', { value: typeof o.value === 'string' ? o.value : '' }, text(o.text, 75))));
    if (isObj(e.initial_option) && typeof e.initial_option.value === 'string') el.value = e.initial_option.value;
    return { el, read: () => (el.value ? { type: e.type, selected_option: { value: el.value } } : null) };
  }
  // What this client cannot work is shown, not dropped: it sends nothing.
  return { el: h('div', { id, class: 'view-unsupported' }, 'This field is not available in this client.'), read: () => null };
}

export const appViewMethods = {
  // A button in an app's modal: the app hears it with what the form holds.
  viewAction(viewId, { actionId, blockId, element }) {
    const shown = this.appViews && this.appViews.get(viewId);
    if (!shown) return;
    element.disabled = true;
    this.api.call('views.action', { view_id: viewId, action_id: actionId, block_id: blockId, values: shown.values() })
      .catch((e) => shown.showError(e.detail || e.code || String(e)))
      .finally(() => { element.disabled = false; });
  },

  onViewEvent(ev) {
    const v = ev.view;
    if (!isObj(v) || typeof v.id !== 'string' || v.type !== 'modal') return;
    if (!this.appViews) this.appViews = new Map();
    const shown = this.appViews.get(v.id);
    switch (ev.type) {
      case 'view_opened':
        if (!shown) this.showAppView(v);
        break;
      case 'view_updated':
        if (shown) shown.replace(v);
        break;
      case 'view_errors':
        if (shown) shown.showErrors(isObj(ev.errors) ? ev.errors : {});
        break;
      case 'view_closed':
        if (shown) shown.closedElsewhere();
        break;
      default:
        break;
    }
  },

  showAppView(view) {
    let current = view;
    let closedHere = true;
    let waiting = 0;
    let inputs = [];
    const body = h('div', { class: 'view-body' });
    const mrkdwn = this.mrkdwnCtx;

    const draw = (v) => {
      body.replaceChildren();
      inputs = [];
      const ctx = blockContext(mrkdwn, { view: v.id });
      const blocks = (Array.isArray(v.blocks) ? v.blocks : []).slice(0, LIMITS.blocks);
      blocks.forEach((b, i) => {
        if (!isObj(b)) return;
        if (b.type !== 'input' || !isObj(b.element)) {
          const node = renderBlocks([b], ctx);
          if (node) body.append(node);
          return;
        }
        const id = `view-${v.id}-${i}`;
        const c = inputControl(b, id);
        const error = h('p', { id: `${id}-err`, class: 'field-error', role: 'alert', hidden: true });
        const hint = text(b.hint, 2000);
        body.append(h('div', { class: 'field view-field', dataset: { blockId: b.block_id || '' } },
          h('label', { for: id }, text(b.label, 2000), b.optional ? h('span', { class: 'muted' }, ' (optional)') : null),
          c.el,
          hint ? h('p', { class: 'muted view-hint' }, hint) : null,
          error));
        inputs.push({ block: b.block_id, action: b.element.action_id, read: c.read, error });
      });
    };
    draw(view);
    // What the form holds now, as Slack's state.values.
    const readValues = () => {
      const values = {};
      for (const i of inputs) {
        const v = i.read();
        if (v) values[i.block] = { [i.action]: v };
      }
      return values;
    };

    const actions = [{ label: text(view.close, 24) || 'Cancel', onClick: (d) => d.close() }];
    if (isObj(view.submit)) actions.push({ label: text(view.submit, 24) || 'Submit', submit: true, primary: true });
    const m = modal({
      title: text(view.title, 24) || 'App',
      body,
      actions,
      className: 'app-view',
      onClose: () => {
        settle();
        this.appViews.delete(view.id);
        if (closedHere) this.api.call('views.close', { view_id: current.id }).catch(() => {});
      },
      onSubmit: async (d) => {
        d.showError('');
        const values = readValues();
        for (const i of inputs) i.error.hidden = true;
        try {
          await this.api.call('views.submit', { view_id: current.id, values });
        } catch (e) {
          d.showError(e.detail || e.code || String(e));
          return;
        }
        // The app answers through the stream: closed, updated or errors.
        m.dialog.classList.add('view-waiting');
        clearTimeout(waiting);
        waiting = setTimeout(() => {
          m.dialog.classList.remove('view-waiting');
          d.showError('The app did not answer. Try again.');
        }, ANSWER_WAIT_MS);
      },
    });
    m.dialog.dataset.viewId = view.id;
    function settle() {
      clearTimeout(waiting);
      if (m) m.dialog.classList.remove('view-waiting');
    }
    const handle = {
      replace: (v) => {
        settle();
        current = v;
        m.showError('');
        draw(v);
        const title = m.dialog.querySelector('.dialog-head h2');
        if (title) title.textContent = text(v.title, 24) || 'App';
      },
      showErrors: (errors) => {
        settle();
        let shown = false;
        for (const i of inputs) {
          const msg = typeof errors[i.block] === 'string' ? errors[i.block].slice(0, 500) : '';
          i.error.textContent = msg;
          i.error.hidden = !msg;
          shown = shown || !!msg;
        }
        if (!shown) m.showError('The app could not take this.');
      },
      values: readValues,
      showError: (text) => m.showError(text),
      closedElsewhere: () => {
        settle();
        closedHere = false;
        m.close();
      },
    };
    this.appViews.set(view.id, handle);
  },
};
