#!/usr/bin/env node
// `npm start`: the demo world with the live table (extra arguments pass through,
// e.g. `npm start -- --speed 2`).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from './main.js';

let root = dirname(fileURLToPath(import.meta.url));
while (!existsSync(join(root, 'package.json'))) root = dirname(root);
await main([process.argv[0] as string, 'vantage-sim', '--world', join(root, 'bench', 'worlds', 'demo.json'), '--live', ...process.argv.slice(2)]);
