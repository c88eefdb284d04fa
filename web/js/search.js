// Message search in the side panel, and jumping to a result.
// Its methods are mixed into the App (app.js) and share its state.

import { explain } from './api.js';
import { h, tsDate, formatWhen } from './dom.js';
import { renderMrkdwn } from './mrkdwn.js';
import { avatar } from './messages.js';
import { PHONE } from './shell.js';

export const searchMethods = {
  async search(query) {
    const p = this.openPanel('search', 'Search results');
    p.query = query;
    const results = h('ol', { class: 'search-results', 'aria-labelledby': 'panel-title' });
    const status = h('p', { class: 'muted small', role: 'status' }, 'Searching…');
    this.panelEl.append(this.panelHead('Search', `“${query}”`), h('div', { class: 'panel-body' }, status, results));
    let r;
    try {
      r = await this.api.call('search.messages', { query, count: 40 });
    } catch (e) {
      status.textContent = explain(e);
      return;
    }
    if (this.panel !== p) return;
    const matches = (r.messages && r.messages.matches) || [];
    const total = (r.messages && r.messages.total) || matches.length;
    status.textContent = total ? `${total} ${total === 1 ? 'result' : 'results'}` : 'No messages match.';
    for (const m of matches) {
      const ch = m.channel && m.channel.id;
      const date = tsDate(m.ts);
      const where = this.store.channels.has(ch) ? this.store.channelTitle(ch) : `#${(m.channel && m.channel.name) || ch}`;
      const jump = h('button', {
        type: 'button', class: 'search-jump',
        'aria-label': `${this.store.userName(m.user) || m.username || m.user} in ${where}, ${formatWhen(date)}. Jump to message`,
        onclick: () => this.jumpTo(ch, m.ts, m.thread_ts),
      }, h('span', { class: 'search-where' }, where), h('span', { class: 'muted' }, ' · '),
      h('span', { class: 'search-who' }, this.store.userName(m.user) || m.username || m.user || ''),
      h('span', { class: 'muted' }, ' · '), h('time', { datetime: date.toISOString() }, formatWhen(date)));
      const text = h('div', { class: 'search-text' }, renderMrkdwn(m.text || '', this.mrkdwnCtx));
      const li = h('li', { class: 'search-hit', dataset: { ts: m.ts, channel: ch || '' } }, avatar(this, m.user, 'sm'),
        h('div', { class: 'search-body' }, jump, text));
      li.addEventListener('click', (e) => {
        if (e.target.closest('a,button')) return;
        this.jumpTo(ch, m.ts, m.thread_ts);
      });
      results.append(li);
    }
    const first = results.querySelector('button');
    if (first) first.focus();
  },

  async jumpTo(channel, ts, threadTs) {
    if (!channel) return;
    if (!this.store.channels.has(channel)) {
      await this.discoverChannel(channel);
      if (!this.store.channels.has(channel)) {
        this.go(channel);
        return;
      }
    }
    const keepPanel = this.panel && this.panel.kind === 'search' && !PHONE.matches;
    if (!keepPanel && this.panel && this.panel.kind === 'search') this.closePanel();
    if (this.current !== channel) {
      history.pushState(null, '', `#/${channel}`);
      await this.openChannel(channel);
    }
    const reply = threadTs && threadTs !== ts;
    const target = reply ? threadTs : ts;
    const list = this.store.list(channel);
    for (let i = 0; i < 60 && !list.get(target) && list.hasMore; i++) await this.loadOlder(channel);
    if (this.view && !this.view.highlight(target)) this.toast('That message is no longer there.', 'info');
    if (reply) {
      await this.openThread(channel, threadTs);
      if (this.panel && this.panel.view) this.panel.view.highlight(ts);
    }
  },
};
