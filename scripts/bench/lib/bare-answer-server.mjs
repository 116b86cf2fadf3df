// The HTTP floor of an admin call: a bare node:http server that answers every request with the body
// in BARE_ANSWER (the JSON a flush answered), after reading the request and nothing else. Started by
// the bench as a child process (baseline-process.mjs); prints {"port": n} on stdout once it listens.
import { createServer } from 'node:http';

const answer = process.env.BARE_ANSWER;
if (!answer) {
  process.stderr.write('bare-answer-server: BARE_ANSWER is required\n');
  process.exit(2);
}
const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(answer) };
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, headers);
    res.end(answer);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
