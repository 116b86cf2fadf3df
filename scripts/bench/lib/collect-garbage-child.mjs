// Child of the bench (WebSocket needs --experimental-websocket on Node 20): asks the V8 inspector at
// argv[2] for full garbage collections, so a memory reading shows what is live rather than what V8
// has not collected yet.
const ws = new WebSocket(process.argv[2]);
let id = 0;
const pending = new Map();
const call = (method) =>
  new Promise((resolve, reject) => {
    pending.set(++id, { resolve, reject });
    ws.send(JSON.stringify({ id, method }));
  });
ws.addEventListener('message', (e) => {
  const msg = JSON.parse(String(e.data));
  const p = pending.get(msg.id);
  if (!p) return;
  pending.delete(msg.id);
  if (msg.error) p.reject(new Error(msg.error.message));
  else p.resolve(msg.result);
});
ws.addEventListener('error', () => {
  process.stderr.write(`collect-garbage: cannot connect to ${process.argv[2]}\n`);
  process.exit(1);
});
ws.addEventListener('open', async () => {
  // Twice: the first collection can leave objects that only become unreachable through it (weak refs, finalizers).
  await call('HeapProfiler.collectGarbage');
  await call('HeapProfiler.collectGarbage');
  ws.close();
  process.exit(0);
});
setTimeout(() => {
  process.stderr.write('collect-garbage: no answer within 60 s\n');
  process.exit(1);
}, 60_000).unref();
