// The operator's console: plain JS, no build step, no library. Everything it shows comes from the
// admin API of the node that served it, with the credentials signed in with, in an Authorization
// header (never a URL). Data is put on the page with textContent only: names in the audit trail
// are whatever callers sent, and must never become markup.
'use strict';

const STORE = 'authcache.console.credentials';
const $ = (id) => document.getElementById(id);
const state = { auth: null, members: new Map(), self: null, audit: [], auditIds: new Set(), stream: null, caches: [] };

// ---- credentials: this tab's sessionStorage only --------------------------------------------

function loadAuth() {
  try {
    const a = JSON.parse(sessionStorage.getItem(STORE) || 'null');
    return a && typeof a.header === 'string' ? a : null;
  } catch {
    return null;
  }
}

function saveAuth(a) {
  if (a) sessionStorage.setItem(STORE, JSON.stringify(a));
  else sessionStorage.removeItem(STORE);
  state.auth = a;
}

function basicHeader(user, password) {
  // btoa takes Latin-1 only: encode as UTF-8 first, as the node decodes it.
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `Basic ${btoa(bin)}`;
}

// ---- the admin API ---------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { authorization: state.auth.header };
  if (body !== undefined) headers['content-type'] = 'application/json';
  // credentials 'omit': no cookies, and no browser password prompt on a 401.
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  let json = null;
  try {
    json = await res.json();
  } catch {
    json = null;
  }
  if (res.status === 401 || res.status === 403) signOut(`Signed out: ${errorText(json) || res.status}`);
  return { status: res.status, json };
}

/** Our paths answer {"error": "..."}, OpenSearch's paths {"error": {"reason": "..."}}. */
function errorText(j) {
  if (!j) return '';
  return typeof j.error === 'string' ? j.error : (j.error && j.error.reason) || '';
}

// ---- rendering -------------------------------------------------------------------------------

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function hitRate(s) {
  const n = (s.hits || 0) + (s.misses || 0);
  return n === 0 ? '–' : `${Math.round((100 * s.hits) / n)} %`;
}

function renderMembers() {
  const rows = [...state.members.values()].sort((a, b) => a.id.localeCompare(b.id));
  const caches = [...new Set(rows.flatMap((m) => Object.keys(m.cache || {})))].sort();
  const head = $('members-head');
  while (head.children.length > 5) head.lastChild.remove();
  for (const c of caches) head.append(el('th', `${c}: entries · hit rate`));
  const body = $('members').tBodies[0];
  body.replaceChildren(
    ...rows.map((m) => {
      const tr = el('tr');
      tr.dataset.node = m.id;
      const degraded = m.id === state.self && state.sync && state.sync !== 'UP';
      const status = m.left ? 'LEFT' : degraded ? state.sync : m.status;
      tr.className = `status-${status.toLowerCase()}`;
      tr.append(el('td', m.id + (m.id === state.self ? ' (this node)' : ''), 'node'), el('td', m.address), el('td', status, 'status'));
      tr.append(el('td', m.applied_seq, 'seq num'), el('td', m.lag === null || m.lag === undefined ? '–' : m.lag, 'lag num'));
      for (const c of caches) {
        const s = (m.cache || {})[c];
        tr.append(el('td', s ? `${s.size} · ${hitRate(s)}` : '–', 'num'));
      }
      return tr;
    }),
  );
  const up = rows.filter((m) => m.status === 'UP').length;
  $('members-summary').textContent = `${up} of ${rows.length} up`;
}

function renderSettings(view) {
  state.caches = Object.keys(view.settings || {});
  $('settings-node').textContent = `as applied on ${view.node}`;
  $('settings').tBodies[0].replaceChildren(
    ...state.caches.map((c) => {
      const s = view.settings[c];
      const tr = el('tr');
      tr.dataset.cache = c;
      for (const v of [c, s.ttl_ms, s.max_entries, s.refresh_ms, s.active_update, s.enabled]) tr.append(el('td', v));
      return tr;
    }),
  );
  const select = $('ttl-cache');
  const chosen = select.value;
  select.replaceChildren(el('option', 'every cache'), ...state.caches.map((c) => el('option', c)));
  select.options[0].value = '';
  select.value = chosen;
}

function nodesText(e) {
  if (!e.nodes) return '–';
  const failed = (e.failures || []).map((f) => `${f.node}: ${f.reason}`).join(', ');
  return `${e.nodes.successful}/${e.nodes.total}${failed ? ` (FAILED ${failed})` : ''}`;
}

function renderAudit() {
  $('audit').tBodies[0].replaceChildren(
    ...state.audit.slice(0, 200).map((e) => {
      const tr = el('tr', undefined, e.status >= 400 ? 'refused' : '');
      tr.dataset.action = e.action;
      if (e.error) tr.title = e.error;
      const ts = String(e.ts).replace('T', ' ').replace(/\.\d+Z$/, '');
      for (const v of [ts, e.actor, e.address, e.action, e.target ?? '–', e.seq ?? '–', e.status, nodesText(e)]) tr.append(el('td', v));
      return tr;
    }),
  );
}

function addAudit(entries) {
  for (const e of entries) {
    if (e.id && state.auditIds.has(e.id)) continue;
    if (e.id) state.auditIds.add(e.id);
    state.audit.push(e);
  }
  state.audit.sort((a, b) => (b.id || '').localeCompare(a.id || '', undefined, { numeric: true }));
  state.audit.length = Math.min(state.audit.length, 500);
  renderAudit();
}

function setConn(text, cls) {
  const c = $('conn');
  c.hidden = false;
  c.textContent = text;
  c.className = `conn ${cls}`;
}

// ---- the live event stream (stream.js reads it) ----------------------------------------------

function onEvent(name, data) {
  if (name === 'hello') {
    state.self = data.node;
    $('cluster').textContent = `cluster ${data.cluster}`;
    $('who').textContent = `Signed in as ${data.actor} · on ${data.node}`;
    // History up to now; the stream brings everything after (entries are de-duplicated by id).
    void api('GET', '/v1/audit?limit=100').then((r) => r.status === 200 && addAudit(r.json));
  } else if (name === 'member' || name === 'stats') {
    if (data.change === 'removed') state.members.delete(data.node);
    else state.members.set(data.node, data);
    renderMembers();
  } else if (name === 'applied') {
    const m = state.members.get(data.node);
    if (m) Object.assign(m, { applied_seq: data.seq, lag: data.lag });
    renderMembers();
  } else if (name === 'sync') {
    state.sync = data.status;
    const b = $('sync');
    b.hidden = false;
    b.textContent = data.in_sync ? 'in sync' : `${data.status.toLowerCase()} · redis ${data.redis}`;
    b.className = `badge ${data.in_sync ? 'ok' : 'bad'}`;
    renderMembers();
  } else if (name === 'audit') {
    addAudit([data]);
  }
}

/** Follows the stream (stream.js) until signed out; the header line says whether it is live. */
function follow() {
  state.stream = followEvents({
    header: () => state.auth && state.auth.header,
    onEvent,
    onState: (live) => (live ? setConn('live', 'ok') : setConn('reconnecting…', 'bad')),
    onRefused: () => signOut('Signed out: the credentials were refused'),
  });
}

// ---- actions: each behind a confirmation, with the per-node result shown after ---------------

function confirmAction(text) {
  const d = $('confirm');
  $('confirm-text').textContent = text;
  d.showModal();
  return new Promise((resolve) => {
    const done = (ok) => {
      $('confirm-ok').onclick = $('confirm-cancel').onclick = d.oncancel = null;
      d.close();
      resolve(ok);
    };
    $('confirm-ok').onclick = () => done(true);
    $('confirm-cancel').onclick = () => done(false);
    d.oncancel = () => done(false);
  });
}

/** "3/3 nodes", or "2/3 nodes; FAILED node3: down (last seen 4.1 s ago)". */
function resultText(what, r) {
  const j = r.json || {};
  if (r.status >= 400) return { text: `${what}: refused (${r.status}): ${errorText(j) || 'no answer'}`, ok: false };
  if (!j.nodes) return { text: `${what}: done (this node only)`, ok: true };
  const failures = (j.failures || []).map((f) => `${f.node}: ${f.reason}${f.last_seen_ms !== undefined ? ` (last seen ${(f.last_seen_ms / 1000).toFixed(1)} s ago)` : ''}`);
  const text = `${what}: ${j.nodes.successful}/${j.nodes.total} nodes${failures.length ? `; FAILED ${failures.join(', ')}` : ''} (seq ${j.seq})`;
  return { text, ok: j.nodes.failed === 0 };
}

async function act(what, confirmText, method, path, body) {
  if (!(await confirmAction(confirmText))) return;
  const out = $('result');
  out.textContent = `${what}: waiting for every node…`;
  out.className = 'result';
  let r;
  try {
    r = await api(method, path, body);
  } catch (err) {
    r = { status: 0, json: { error: `no answer from this node (${err.message})` } };
  }
  const { text, ok } = resultText(what, r);
  out.textContent = text;
  out.className = `result ${ok ? 'ok' : 'bad'}`;
  if (method === 'PUT') void loadSettings();
}

async function loadSettings() {
  const r = await api('GET', '/v1/cache/settings');
  if (r.status === 200) renderSettings(r.json);
}

// ---- sign in / out ---------------------------------------------------------------------------

function signOut(message) {
  saveAuth(null);
  if (state.stream) state.stream.abort();
  state.stream = null;
  state.members.clear();
  state.audit = [];
  state.auditIds.clear();
  $('app').hidden = true;
  $('signin').hidden = false;
  $('signout').hidden = true;
  $('conn').hidden = $('sync').hidden = true;
  $('who').textContent = '';
  $('signin-error').textContent = message || '';
}

async function start() {
  $('signin').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  setConn('connecting…', 'bad');
  const nodes = await api('GET', '/v1/cluster/nodes');
  if (!state.auth) return;
  if (nodes.status === 200) for (const m of nodes.json) state.members.set(m.id, m);
  renderMembers();
  void loadSettings();
  follow();
}

async function signIn(ev) {
  ev.preventDefault();
  const basic = document.querySelector('input[name=mode]:checked').value === 'basic';
  const header = basic ? basicHeader($('username').value, $('password').value) : `Bearer ${$('token').value.trim()}`;
  $('signin-error').textContent = '';
  // Checked once before it is kept: a refused sign-in leaves nothing in storage.
  const res = await fetch('/v1/cluster/nodes', { headers: { authorization: header }, credentials: 'omit', cache: 'no-store' }).catch(() => null);
  if (!res || !res.ok) {
    const body = res ? await res.json().catch(() => ({})) : { error: 'this node did not answer' };
    $('signin-error').textContent = `Sign-in refused: ${errorText(body) || res.status}`;
    return;
  }
  $('password').value = $('token').value = '';
  saveAuth({ header });
  await start();
}

document.addEventListener('DOMContentLoaded', () => {
  for (const r of document.querySelectorAll('input[name=mode]')) {
    r.addEventListener('change', () => {
      const basic = document.querySelector('input[name=mode]:checked').value === 'basic';
      $('basic-fields').hidden = !basic;
      $('token-fields').hidden = basic;
    });
  }
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', () => signOut('Signed out.'));
  $('flush-user-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const user = $('flush-user').value.trim();
    if (user) void act(`Flush ${user}`, `Flush user "${user}" from every cache on every node?`, 'DELETE', `/v1/cache/users/${encodeURIComponent(user)}`);
  });
  $('flush-all-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    void act('Flush all', 'Flush ALL caches on every node? Every next login runs bcrypt again.', 'DELETE', '/v1/cache');
  });
  $('ttl-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const cache = $('ttl-cache').value;
    const ttl = Number($('ttl-ms').value);
    const body = cache ? { cache, ttl_ms: ttl } : { ttl_ms: ttl };
    void act('Change TTL', `Set the TTL of ${cache || 'every cache'} to ${ttl} ms on every node?`, 'PUT', '/v1/cache/settings', body);
  });
  state.auth = loadAuth();
  if (state.auth) void start();
});
