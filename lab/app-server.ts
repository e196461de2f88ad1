/**
 * The lab's HTTP app server (runs on app1 and app2, one process each, inside the host's namespace):
 *   GET /bytes/N  → N bytes (N ≤ 64 MiB), streamed with backpressure
 *   GET /healthz  → "ok"
 * Usage: node dist/lab/app-server.js --port 8080 [--host 0.0.0.0] [--name app1]
 */
import http from 'node:http';
import { parseArgs } from 'node:util';

const MAX_BYTES = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(256 * 1024, 'kdrift-lab-payload\n');

const { values } = parseArgs({
  options: { port: { type: 'string', default: '8080' }, host: { type: 'string', default: '0.0.0.0' }, name: { type: 'string', default: 'app' } },
});
const port = Number(values.port);
const name = values.name ?? 'app';

function sendBytes(res: http.ServerResponse, total: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total), 'x-served-by': name });
  let left = total;
  const pump = (): void => {
    while (left > 0) {
      const n = Math.min(left, CHUNK.length);
      left -= n;
      const ok = res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
      if (!ok) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  pump();
}

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (req.method === 'GET' && url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok\n');
    return;
  }
  const m = /^\/bytes\/(\d{1,9})$/.exec(url);
  if (req.method === 'GET' && m) {
    const n = Number(m[1]);
    if (n > MAX_BYTES) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`at most ${MAX_BYTES} bytes\n`);
      return;
    }
    sendBytes(res, n);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found: GET /bytes/N or /healthz\n');
});
server.keepAliveTimeout = 65_000;
server.listen(port, values.host, () => process.stdout.write(`${name}: listening on ${values.host}:${port}\n`));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
