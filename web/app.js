// libchat's web client: one page, plain ES modules, the public Web API and
// the event stream only. See web/README.md for how it is put together.
//
// This is the entry point. The App below holds the client's state (the API
// client, the store, the open conversation, its view and composer, the side
// panel) and wires the page's global events; each module in js/ adds the
// methods of one job to it, so they all share that state through `this`.

import { Api } from './js/api.js';
import { Store } from './js/store.js';
import { themeMethods, DARK } from './js/theme.js';
import { toastMethods } from './js/toasts.js';
import { authMethods } from './js/auth.js';
import { sessionMethods } from './js/session.js';
import { shellMethods } from './js/shell.js';
import { sidebarMethods } from './js/sidebar.js';
import { routerMethods } from './js/router.js';
import { channelViewMethods } from './js/channel-view.js';
import { historyMethods } from './js/message-history.js';
import { messageFlowMethods } from './js/message-flow.js';
import { editingMethods } from './js/editing.js';
import { reactionMethods } from './js/reactions.js';
import { fileMethods } from './js/files.js';
import { panelMethods } from './js/panel.js';
import { threadMethods } from './js/threads.js';
import { memberMethods } from './js/members.js';
import { searchMethods } from './js/search.js';
import { presenceMethods } from './js/presence.js';
import { eventMethods } from './js/events.js';
import { channelActionMethods } from './js/channel-actions.js';
import { appViewMethods } from './js/app-views.js';
import { onBlockAction } from './js/blocks.js';

class App {
  constructor() {
    this.api = new Api();
    this.store = new Store();
    this.drafts = new Map();
    this.rtm = null;
    this.current = null;
    this.view = null;
    this.composer = null;
    this.panel = null;
    this.fileLoads = new Map();
    this.presenceLoads = new Set();
    this.markTimers = new Map();
    this.syncing = null;
    this.syncAgain = false;
    this.connected = false;
    this.everConnected = false;
    this.mrkdwnCtx = {
      selfId: null,
      userName: (id) => this.store.userName(id),
      userHandle: (id) => this.store.userHandle(id),
      userByHandle: (handle) => this.store.userByHandle(handle),
      channelName: (id) => this.store.channelName(id),
    };
    this.api.onAuthLost = () => this.endSession('Your session has ended. Please sign in again.');
    // A button of an app's message: the app hears the click (blocks.actions).
    onBlockAction(({ action_id: actionId, block_id: blockId, message, view, element }) => {
      if (view) {
        this.viewAction(view, { actionId, blockId, element });
        return;
      }
      if (!message || !message.channel || !message.ts) return;
      element.disabled = true;
      this.api.call('blocks.actions', { channel: message.channel, ts: message.ts, block_id: blockId, action_id: actionId })
        .catch((e) => this.fail(e))
        .finally(() => { element.disabled = false; });
    });
    this.userFetch = new Set();
    this.pendingUnread = new Map();
    this.deletedTs = new Set();
    this.userFetchTimer = 0;
    this.root = document.getElementById('root');
    this.applyTheme();
    DARK.addEventListener('change', () => this.applyTheme());
    window.addEventListener('hashchange', () => this.route());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible' && this.current) this.markRead(this.current);
    });
    window.addEventListener('focus', () => { if (this.current) this.markRead(this.current); });
    document.addEventListener('keydown', (e) => this.globalKey(e));
    setInterval(() => this.expireTyping(), 1000);
  }

  selfUser() {
    return this.store.self ? this.store.users.get(this.store.self.id) : null;
  }
}

// Copies each module's methods onto App.prototype; a name defined twice is a
// mistake, so it throws rather than letting one silently replace the other.
function mixin(target, ...sources) {
  for (const source of sources) {
    for (const name of Object.keys(source)) {
      if (Object.prototype.hasOwnProperty.call(target.prototype, name)) {
        throw new Error(`App.${name} is defined twice`);
      }
      Object.defineProperty(target.prototype, name, {
        value: source[name], writable: true, configurable: true, enumerable: false,
      });
    }
  }
}

mixin(App,
  themeMethods, toastMethods, authMethods, sessionMethods, shellMethods,
  sidebarMethods, routerMethods, channelViewMethods, historyMethods, messageFlowMethods,
  editingMethods, reactionMethods, fileMethods, panelMethods, threadMethods,
  memberMethods, searchMethods, presenceMethods, eventMethods, channelActionMethods,
  appViewMethods);

const app = new App();
app.boot();
