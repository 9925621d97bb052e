/**
 * Zips a test drive package folder: `npm run package -- <folder> <out.zip>`.
 * main-template.json must be at the folder's root; README.md and access-information.html are left out.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { zipDirectory } from '../src/common/zip-directory';

async function main(): Promise<void> {
  const [dir, out] = process.argv.slice(2);
  if (!dir || !out) {
    process.stderr.write('usage: npm run package -- <package folder> <out.zip>\n');
    process.exit(2);
  }
  const zip = await zipDirectory(path.resolve(dir), { exclude: ['README.md', 'access-information.html'] });
  fs.writeFileSync(out, zip);
  process.stdout.write(`${out}: ${zip.length} bytes\n`);
}
void main();
