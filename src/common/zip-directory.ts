import * as fs from 'node:fs';
import * as path from 'node:path';
import { ZipFile } from 'yazl';

/**
 * Zips a folder's contents (not the folder itself) into a Buffer, entries relative to `dir` with '/'
 * separators, sorted by path, UTF-8 names, regular files only (symbolic links and other special
 * files are skipped). Used to build a template package from e.g. templates/arm/sample-webapp.
 * `opts.exclude` lists relative paths ('/' separators, e.g. "README.md", "docs/notes.txt") to leave out.
 * @throws Error if `dir` cannot be read.
 */
export async function zipDirectory(dir: string, opts: { exclude?: string[] } = {}): Promise<Buffer> {
  const exclude = new Set(opts.exclude ?? []);
  const zip = new ZipFile();
  for (const rel of listFiles(dir, '')) {
    if (exclude.has(rel)) continue;
    zip.addFile(path.join(dir, rel), rel, { mtime: new Date(Date.UTC(2020, 0, 1)), mode: 0o100644 });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function listFiles(root: string, rel: string): string[] {
  const out: string[] = [];
  const entries = fs.readdirSync(path.join(root, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(root, r));
    else if (e.isFile()) out.push(r);
  }
  return out;
}
