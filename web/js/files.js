// Files: details of shared files, and uploads (drop zones, progress,
// cancel, sharing into a conversation or thread).
// Its methods are mixed into the App (app.js) and share its state.

import { icon } from './icons.js';
import { explain, uploadBytes } from './api.js';
import { h, formatSize, announce } from './dom.js';

export const fileMethods = {
  async loadFile(id) {
    if (this.fileLoads.has(id) || this.store.files.has(id)) return;
    this.fileLoads.set(id, true);
    try {
      const r = await this.api.call('files.info', { file: id });
      this.store.files.set(id, r.file);
    } catch (e) {
      this.store.files.set(id, { id, deleted: true, mode: 'tombstone' });
    }
    this.fileLoads.delete(id);
    this.refreshFile(id);
  },

  refreshFile(id) {
    const views = [this.view, this.panel && this.panel.view].filter(Boolean);
    for (const view of views) {
      for (const m of view.list.items) {
        if (m.files.some((f) => f.id === id)) {
          const file = this.store.files.get(id);
          const files = m.files.map((f) => (f.id === id && file ? file : f));
          view.apply(view.list.upsert({ ...m, files }));
        }
      }
    }
  },

  onImageLoad(img) {
    for (const view of [this.view, this.panel && this.panel.view]) {
      if (view && view.scroller.contains(img) && view.atBottom) view.scrollToBottom();
    }
  },

  setupDrop(zone, target) {
    let depth = 0;
    const overlay = h('div', { class: 'drop-overlay', hidden: true }, h('div', null, 'Drop files to upload'));
    zone.append(overlay);
    const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
    zone.addEventListener('dragenter', (e) => {
      if (!hasFiles(e) || !target()) return;
      e.preventDefault();
      depth++;
      const t = target();
      overlay.firstChild.textContent = `Drop files to upload to ${this.store.channelTitle(t.channel)}`;
      if (!overlay.isConnected) zone.append(overlay);
      overlay.hidden = false;
    });
    zone.addEventListener('dragover', (e) => {
      if (!hasFiles(e) || !target()) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    });
    zone.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) overlay.hidden = true;
    });
    zone.addEventListener('drop', (e) => {
      depth = 0;
      overlay.hidden = true;
      const t = target();
      if (!hasFiles(e) || !t) return;
      e.preventDefault();
      const files = Array.from(e.dataTransfer.files || []);
      if (files.length) this.uploadFiles(files, t.channel, t.threadTs, t.box);
    });
  },

  uploadFiles(files, channel, threadTs, box) {
    for (const file of files) this.uploadOne(file, channel, threadTs, box);
  },

  async uploadOne(file, channel, threadTs, box) {
    const bar = h('progress', { max: '100', value: '0', 'aria-label': `Uploading ${file.name}` });
    const pct = h('span', { class: 'upload-pct' }, '0%');
    let xfer = null;
    let cancelled = false;
    const cancel = h('button', {
      type: 'button', class: 'icon-btn', 'aria-label': `Cancel upload of ${file.name}`,
      onclick: () => { cancelled = true; if (xfer) xfer.abort(); item.remove(); },
    }, icon('close', { size: 14 }));
    const item = h('div', { class: 'upload', dataset: { file: file.name } },
      h('span', { class: 'upload-name' }, file.name),
      h('span', { class: 'muted small' }, formatSize(file.size)), bar, pct, cancel);
    if (box) box.append(item);
    try {
      const r = await this.api.call('files.getUploadURLExternal', { filename: file.name, length: file.size });
      if (cancelled) return;
      const url = this.api.local(r.upload_url);
      xfer = uploadBytes(url.href, file, (loaded, total) => {
        const p = total ? Math.round((loaded / total) * 100) : 100;
        bar.value = p;
        pct.textContent = `${p}%`;
      });
      await xfer;
      if (cancelled) return;
      pct.textContent = 'Sharing…';
      const args = { files: [{ id: r.file_id, title: file.name }], channel_id: channel };
      if (threadTs) args.thread_ts = threadTs;
      await this.api.call('files.completeUploadExternal', args);
      item.classList.add('done');
      pct.textContent = 'Done';
      announce(`${file.name} uploaded`);
      setTimeout(() => item.remove(), 1200);
      if (!this.connected) this.catchUp(channel).catch(() => {});
    } catch (e) {
      if (cancelled || e.code === 'cancelled') return;
      item.classList.add('failed');
      pct.textContent = 'Failed';
      this.toast(`${file.name}: ${explain(e)}`);
      setTimeout(() => item.remove(), 5000);
    }
  },
};
