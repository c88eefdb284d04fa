// The Web API: POST /api/<method> with a JSON body and a Bearer token.

const AUTH_ERRORS = new Set([
  'not_authed', 'invalid_auth', 'token_revoked', 'token_expired', 'account_inactive',
]);

export class ApiError extends Error {
  constructor(code, detail, status) {
    super(detail ? `${code}: ${detail}` : code);
    this.code = code;
    this.detail = detail || '';
    this.status = status || 0;
  }
  get isNetwork() {
    return this.code === 'network_error' || this.status >= 500;
  }
}

const TOKEN_KEY = 'libchat.token';

export class Api {
  constructor() {
    this.token = null;
    try { this.token = localStorage.getItem(TOKEN_KEY); } catch { /* storage off */ }
    this.onAuthLost = () => {};
  }

  setToken(token) {
    this.token = token;
    try {
      if (token) localStorage.setItem(TOKEN_KEY, token);
      else localStorage.removeItem(TOKEN_KEY);
    } catch { /* storage off: the session lasts as long as the page */ }
  }

  async call(method, args = {}, { retries = 2 } = {}) {
    const headers = { 'Content-Type': 'application/json; charset=utf-8' };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let res;
    try {
      res = await fetch(`/api/${method}`, {
        method: 'POST',
        headers,
        body: JSON.stringify(args),
        credentials: 'omit',
        cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError('network_error', e.message, 0);
    }
    if (res.status === 429 && retries > 0) {
      const wait = Math.min(10, Number(res.headers.get('Retry-After')) || 1);
      await new Promise((r) => setTimeout(r, wait * 1000));
      return this.call(method, args, { retries: retries - 1 });
    }
    let body;
    try {
      body = await res.json();
    } catch {
      throw new ApiError(res.ok ? 'bad_response' : `http_${res.status}`, res.statusText, res.status);
    }
    if (!body || body.ok !== true) {
      const code = (body && body.error) || `http_${res.status}`;
      if (AUTH_ERRORS.has(code) && this.token) this.onAuthLost(code);
      throw new ApiError(code, body && body.detail, res.status);
    }
    return body;
  }

  // Every page of a cursor-paginated list method.
  async all(method, args, key, { limit = 200, maxPages = 50 } = {}) {
    const out = [];
    let cursor = '';
    for (let page = 0; page < maxPages; page++) {
      const r = await this.call(method, { ...args, limit, ...(cursor ? { cursor } : {}) });
      out.push(...(r[key] || []));
      cursor = r.response_metadata && r.response_metadata.next_cursor;
      if (!cursor) break;
    }
    return out;
  }

  // The server's own URLs (files, uploads) on this page's origin, so that a
  // gateway reached under another name still works same-origin.
  local(url) {
    try {
      const u = new URL(url, location.href);
      if (u.pathname.startsWith('/files/') || u.pathname.startsWith('/upload/')) {
        return new URL(u.pathname + u.search, location.origin);
      }
      return u;
    } catch {
      return null;
    }
  }

  // url_private with the token in the query, for <img src> and links.
  fileUrl(url, { download = false } = {}) {
    const u = this.local(url);
    if (!u) return null;
    if (download) u.searchParams.set('download', '1');
    if (this.token) u.searchParams.set('token', this.token);
    return u.href;
  }
}

// POST the bytes to an upload_url, reporting progress.
export function uploadBytes(url, file, onProgress) {
  let xhr;
  const promise = new Promise((resolve, reject) => {
    xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded, e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        resolve();
      } else {
        let code = `http_${xhr.status}`;
        try { code = JSON.parse(xhr.responseText).error || code; } catch { /* text */ }
        reject(new ApiError(code, '', xhr.status));
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError('network_error', 'upload failed', 0)));
    xhr.addEventListener('abort', () => reject(new ApiError('cancelled', '', 0)));
    xhr.send(file);
  });
  promise.abort = () => xhr && xhr.abort();
  return promise;
}

const MESSAGES = {
  network_error: 'Cannot reach the server.',
  invalid_auth: 'Your session has ended. Please sign in again.',
  not_authed: 'Please sign in.',
  name_taken: 'That name is already taken.',
  invalid_name: 'Names may use lowercase letters, numbers, hyphens and underscores.',
  invalid_name_specials: 'Names may use lowercase letters, numbers, hyphens and underscores.',
  invalid_name_required: 'Please enter a name.',
  invalid_name_maxlength: 'That name is too long.',
  email_taken: 'An account with that email already exists.',
  invalid_email: 'That email address does not look right.',
  bad_password: 'Passwords need at least 8 characters.',
  invalid_arguments: 'Please check what you entered.',
  user_not_found: 'No account with that email.',
  msg_too_long: 'That message is too long.',
  no_text: 'There is nothing to send.',
  cant_update_message: 'You can only edit your own messages.',
  cant_delete_message: 'You can only delete your own messages.',
  is_archived: 'This channel is archived.',
  not_in_channel: 'You are not a member of this channel.',
  channel_not_found: 'That conversation was not found.',
  file_too_large: 'That file is too large.',
  ratelimited: 'Slow down a little, please.',
  already_reacted: 'You already reacted with that.',
};

export function explain(err) {
  if (!err) return 'Something went wrong.';
  const code = err.code || String(err);
  return MESSAGES[code] || `Something went wrong (${code}).`;
}
