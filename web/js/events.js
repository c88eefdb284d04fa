// Events from the stream (rtm.js): each type to what it changes.
// Its methods are mixed into the App (app.js) and share its state.

import { normalizeMessage, inChannelView } from './store.js';
import { cmpTs } from './dom.js';
import { mentionsUser } from './mrkdwn.js';

export const eventMethods = {
  onEvent(ev) {
    switch (ev.type) {
      case 'message':
        this.onMessageEvent(ev);
        break;
      case 'reaction_added':
      case 'reaction_removed':
        if (ev.item && ev.item.channel) this.applyReaction(ev.item.channel, ev.item.ts, ev.reaction, ev.user, ev.type === 'reaction_added');
        break;
      case 'member_joined_channel':
        this.store.userName(ev.user); // fetches someone new
        if (ev.user === this.store.self.id) this.discoverChannel(ev.channel);
        else this.memberChange(ev.channel, +1);
        break;
      case 'member_left_channel':
        if (ev.user === this.store.self.id) this.leftChannel(ev.channel);
        else this.memberChange(ev.channel, -1);
        break;
      case 'channel_created':
      case 'group_joined':
      case 'im_created': {
        const c = ev.channel;
        if (!c || !c.id) break;
        const mine = ev.type !== 'channel_created' || c.creator === this.store.self.id;
        if (mine && !this.store.channels.has(c.id)) this.discoverChannel(c.id);
        break;
      }
      case 'channel_rename':
        if (ev.channel && this.store.channels.has(ev.channel.id)) {
          const { unread_count: a, unread_count_display: b, mention_count: c2, is_member: d, ...rest } = ev.channel;
          this.store.setChannel(rest);
          this.renderSidebar();
          if (ev.channel.id === this.current) this.renderHeader();
        }
        break;
      case 'channel_archive':
      case 'channel_unarchive': {
        const c = this.store.channels.get(ev.channel);
        if (c) {
          c.is_archived = ev.type === 'channel_archive';
          this.renderSidebar();
        }
        break;
      }
      case 'user_typing':
        if (ev.user !== this.store.self.id) {
          let t = this.store.typing.get(ev.channel);
          if (!t) this.store.typing.set(ev.channel, (t = new Map()));
          t.set(ev.user, Date.now() + 6000);
          if (ev.channel === this.current) this.renderTyping();
        }
        break;
      case 'presence_change':
        this.store.presence.set(ev.user, ev.presence === 'active' ? 'active' : 'away');
        this.updatePresence(ev.user);
        break;
      case 'channel_marked':
        this.onMarked(ev.channel, ev.ts);
        break;
      case 'user_change':
        if (ev.user) {
          this.store.setUser(ev.user);
          this.renderSidebar();
          if (this.view) this.view.render();
          if (this.panel && this.panel.view) this.panel.view.render();
        }
        break;
      case 'view_opened':
      case 'view_updated':
      case 'view_errors':
      case 'view_closed':
        this.onViewEvent(ev);
        break;
      case 'file_deleted':
        if (ev.file_id) {
          this.store.files.set(ev.file_id, { id: ev.file_id, deleted: true, mode: 'tombstone' });
          this.refreshFile(ev.file_id);
        }
        break;
      default:
        break;
    }
  },

  onMessageEvent(ev) {
    const { seq, event_ts: eventTs, hidden, ...rest } = ev;
    if (ev.subtype === 'message_changed') {
      if (!ev.message) return;
      // The whole new state: parts it no longer has (blocks replaced by
      // text, say) go, rather than stay from the old one.
      const m = normalizeMessage({ blocks: undefined, attachments: undefined, ...ev.message }, ev.channel);
      this.updateMessage(ev.channel, m.ts, (old) => m);
      return;
    }
    if (ev.subtype === 'message_deleted') {
      const prev = ev.previous_message ? normalizeMessage(ev.previous_message, ev.channel) : null;
      this.removeMessage(ev.channel, ev.deleted_ts, prev);
      return;
    }
    if (!ev.channel || !ev.ts) return;
    // A topic or purpose notice (Slack's way to say it changed) updates the
    // channel too.
    const field = { channel_topic: 'topic', channel_purpose: 'purpose' }[ev.subtype];
    const c = field ? this.store.channels.get(ev.channel) : null;
    if (c) {
      c[field] = { value: ev[field] || '', creator: ev.user, last_set: Math.floor(Number(ev.ts)) };
      this.renderSidebar();
      if (ev.channel === this.current) this.renderHeader();
    }
    this.ingest(normalizeMessage(rest, ev.channel), { live: true });
  },

  // Read up to ts (here or in another tab): what is newer stays unread.
  onMarked(channel, ts) {
    const c = this.store.channels.get(channel);
    if (!c) return;
    if (c.last_read && ts && cmpTs(ts, c.last_read) < 0) return;
    c.last_read = ts;
    const list = this.store.lists.get(channel);
    let unread = 0;
    let mentions = 0;
    if (list && list.loaded && channel !== this.current) {
      const self = this.store.self.id;
      for (const m of list.items) {
        if (!inChannelView(m) || m.user === self || (ts && cmpTs(m.ts, ts) <= 0)) continue;
        unread++;
        if (c.is_im || c.is_mpim || mentionsUser(m.text, self)) mentions++;
      }
    } else if (channel !== this.current) {
      // Nothing loaded to count: ask.
      this.api.call('conversations.info', { channel }).then((r) => {
        const { is_member: im, ...rest } = r.channel;
        this.store.setChannel(rest);
        this.renderSidebar();
      }).catch(() => {});
    }
    c.unread_count = unread;
    c.unread_count_display = unread;
    c.mention_count = mentions;
    this.renderSidebar();
  },

  memberChange(channel, delta) {
    const c = this.store.channels.get(channel);
    if (!c) return;
    c.num_members = Math.max(0, (c.num_members || 0) + delta);
    if (channel === this.current) {
      this.renderHeader();
      if (this.panel && this.panel.kind === 'members') this.showMembers();
    }
  },
};
