// The floor for any Node.js proxy in bench/proxy.ts: a bare node:http server answering
// every request with the same body from memory (no cache lookup, no forwarding), one
// process, same headers size class. Prints `listening host:port`.
import http from 'node:http';

const [host, portText, bytesText] = process.argv.slice(2);
const body = Buffer.alloc(Number(bytesText ?? 4096), 0x61);
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/html', 'content-length': body.length, 'cache-control': 'max-age=60', etag: '"floor"' });
  res.end(body);
});
server.listen(Number(portText), host, () => process.stdout.write(`listening ${host}:${portText}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
