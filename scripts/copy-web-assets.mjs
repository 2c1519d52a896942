// Build step: copy the dashboard page's static files (HTML, CSS, SVG) from src/web to dist/web beside its compiled script.
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'src', 'web');
const to = join(root, 'dist', 'web');

await mkdir(to, { recursive: true });
let copied = 0;
for (const name of await readdir(from)) {
  if (!/\.(html|css|svg)$/.test(name)) continue;
  await copyFile(join(from, name), join(to, name));
  copied++;
}
if (copied === 0) throw new Error(`no dashboard assets found in ${from}`);
// The main build also compiles src/web (with source maps); the page ships without them.
for (const name of await readdir(to)) {
  if (name.endsWith('.map')) await rm(join(to, name));
}
