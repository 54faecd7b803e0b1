#!/usr/bin/env node
// Builds native/udp-batch (recvmmsg/sendmmsg for the DNS server) quietly: only when
// udp_batch.node is missing or older than its sources, or with --force. node-gyp's
// output goes to native/udp-batch/build/node-gyp.log; the terminal gets one line, and
// only when something was built or failed. Never fails the install: without the addon
// the DNS server uses node:dgram (dns.udpEngine: auto).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dir = path.join(root, 'native', 'udp-batch');
const addon = path.join(dir, 'build', 'Release', 'udp_batch.node');
const sources = ['udp_batch.c', 'udp_batch.h', 'batch.c', 'poll.c', 'reader.c', 'socket.c', 'packet_cache.h', 'binding.gyp'].map((f) => path.join(dir, f));
const force = process.argv.includes('--force');

const mtime = (f) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : -1);
const upToDate = mtime(addon) >= Math.max(...sources.map(mtime));
if (upToDate && !force) process.exit(0);

// npm sets npm_config_node_gyp to its bundled node-gyp; otherwise use one on PATH.
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []];
const run = spawnSync(cmd, [...args, 'rebuild', '--directory', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
const logFile = path.join(dir, 'build', 'node-gyp.log');
try {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.writeFileSync(logFile, `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}`);
} catch {
  // A read-only checkout: the line below still says what happened.
}
const rel = path.relative(process.cwd(), logFile) || logFile;
if (run.status === 0 && fs.existsSync(addon)) console.log(`vantage: native UDP batching built (log: ${rel})`);
else console.log(`vantage: native UDP batching not built (log: ${rel}); the DNS server uses node:dgram`);
