// GET /v1/events read with fetch() and a streaming reader: EventSource cannot send an
// Authorization header, and the credentials must never go into a URL or a cookie.
'use strict';

/** Splits complete Server-Sent Events off `buf`: `{events: [{name, data}], rest}`. Comments (keep-alives) are skipped. */
function parseEvents(buf) {
  const events = [];
  let i;
  while ((i = buf.indexOf('\n\n')) >= 0) {
    const block = buf.slice(0, i);
    buf = buf.slice(i + 2);
    let name = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
    }
    if (data.length > 0) events.push({ name, data: JSON.parse(data.join('\n')) });
  }
  return { events, rest: buf };
}

/** One connection: resolves 'refused' on 401/403, throws when it fails or ends. */
async function readEvents(header, signal, o) {
  const res = await fetch('/v1/events', { headers: { authorization: header, accept: 'text/event-stream' }, credentials: 'omit', cache: 'no-store', signal });
  if (res.status === 401 || res.status === 403) return 'refused';
  if (!res.ok || !res.body) throw new Error(`event stream answered ${res.status}`);
  o.onState(true);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('event stream ended');
    const parsed = parseEvents(buf + value);
    buf = parsed.rest;
    for (const e of parsed.events) o.onEvent(e.name, e.data);
  }
}

/**
 * Follows the stream, reconnecting with a growing delay (1 s to 10 s) while the node is away.
 * Returns an AbortController: abort() stops it (sign-out).
 */
function followEvents(o) {
  const ctl = new AbortController();
  void (async () => {
    let delay = 1000;
    while (!ctl.signal.aborted) {
      const header = o.header();
      if (!header) return;
      try {
        if ((await readEvents(header, ctl.signal, o)) === 'refused') return o.onRefused();
      } catch {
        if (ctl.signal.aborted) return;
        o.onState(false);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 10_000);
    }
  })();
  return ctl;
}
