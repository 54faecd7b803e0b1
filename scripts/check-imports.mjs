#!/usr/bin/env node
// Checks the selector's layering (run by `npm test`):
// - no import cycle between selector folders (a folder = a subdirectory of selector/;
//   the top-level files cli.ts, selector.ts and config.ts are the wiring and sit above all);
// - selector/dns/ imports nothing but shared/ and its own files;
// - no selector folder but commands/ (the CLI) imports selector.ts or cli.ts: only the entry wires folders together;
// - shared/ imports nothing from agent/ or selector/.
// Prints one line per violation and exits 1, or prints a summary and exits 0.
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

const rel = (p) => path.relative(root, p);
/** selector/<folder>/... → folder; selector/x.ts → '' (the wiring layer). */
function folderOf(file) {
  const parts = rel(file).split(path.sep);
  if (parts[0] !== 'selector') return parts[0];
  return parts.length > 2 ? `selector/${parts[1]}` : 'selector';
}

const problems = [];
const graph = new Map(); // folder -> Map(folder -> example "a.ts -> b.ts")
const files = ['selector', 'shared'].flatMap((d) => walk(path.join(root, d)));
for (const file of files) {
  const src = fs.readFileSync(file, 'utf8');
  for (const m of src.matchAll(IMPORT_RE)) {
    const target = path.resolve(path.dirname(file), (m[1] ?? m[2]).replace(/\.js$/, '.ts'));
    const from = folderOf(file);
    const to = folderOf(target);
    const edge = `${rel(file)} -> ${rel(target)}`;
    if (from === 'shared' && (to === 'agent' || to.startsWith('selector'))) problems.push(`shared/ imports ${to}/: ${edge}`);
    if (from === 'selector/dns' && to !== 'selector/dns' && to !== 'shared') problems.push(`selector/dns/ may import only shared/ and itself: ${edge}`);
    if (from.startsWith('selector/') && from !== 'selector/commands' && /^selector\/(selector|cli)\.ts$/.test(rel(target))) problems.push(`only the entry wires folders together: ${edge}`);
    if (from === to || !from.startsWith('selector/') || !to.startsWith('selector/')) continue;
    if (!graph.has(from)) graph.set(from, new Map());
    if (!graph.get(from).has(to)) graph.get(from).set(to, edge);
  }
}

// Cycle search over the folder graph (DFS with colours); reports each cycle once.
const state = new Map();
const stack = [];
function visit(n) {
  state.set(n, 1);
  stack.push(n);
  for (const [m, edge] of graph.get(n) ?? []) {
    if (state.get(m) === 1) {
      const cyc = stack.slice(stack.indexOf(m));
      problems.push(`import cycle between selector folders: ${[...cyc, m].join(' -> ')} (e.g. ${edge})`);
    } else if (!state.has(m)) visit(m);
  }
  stack.pop();
  state.set(n, 2);
}
for (const n of graph.keys()) if (!state.has(n)) visit(n);

if (problems.length) {
  for (const p of problems) console.error(`check-imports: ${p}`);
  process.exit(1);
}
const edges = [...graph].flatMap(([a, tos]) => [...tos.keys()].map((b) => `${a.slice(9)}→${b.slice(9)}`));
console.log(`check-imports: ${files.length} files, no cycles between selector folders (${edges.sort().join(', ')})`);
