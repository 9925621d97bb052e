import * as yauzl from 'yauzl';
import type { Readable } from 'node:stream';
import { ErrorDetail } from '../../../src/common/api-error';
import {
  ENTRY_MAX_NAME_CHARS,
  MAIN_TEMPLATE,
  PACKAGE_MAX_COMPRESSION_RATIO,
  PACKAGE_MAX_ENTRIES,
  PACKAGE_MAX_FILE_BYTES,
  PACKAGE_MAX_TOTAL_UNCOMPRESSED_BYTES,
  PACKAGE_RATIO_MIN_BYTES,
} from './package-limits';

/** One file of a package, read into memory. `path` uses '/' separators, relative to the zip root. */
export interface PackageFile {
  path: string;
  data: Buffer;
}

/** Limits applied while reading a package (defaults: package-limits.ts; tests lower them). */
export interface ZipLimits {
  maxEntries: number;
  maxTotalBytes: number;
  maxFileBytes: number;
  maxRatio: number;
  ratioMinBytes: number;
}

export const DEFAULT_ZIP_LIMITS: ZipLimits = {
  maxEntries: PACKAGE_MAX_ENTRIES,
  maxTotalBytes: PACKAGE_MAX_TOTAL_UNCOMPRESSED_BYTES,
  maxFileBytes: PACKAGE_MAX_FILE_BYTES,
  maxRatio: PACKAGE_MAX_COMPRESSION_RATIO,
  ratioMinBytes: PACKAGE_RATIO_MIN_BYTES,
};

/** Result of reading a package: its files (folders omitted) or every problem found. */
export type ReadPackageResult = { ok: true; files: PackageFile[]; totalBytes: number } | { ok: false; problems: ErrorDetail[] };

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Target naming a package entry in error details, e.g. "package:nested/x.json". */
export const entryTarget = (name: string): string => `package:${name}`;

/**
 * Reads and checks a template package (.zip) held in memory, without touching any storage.
 *
 * Refused (each a problem naming the entry and the rule): not a zip; more than `maxEntries` entries;
 * entry names that are not UTF-8, contain a backslash or control characters, are absolute ('/x',
 * 'C:x'), contain '.', '..' or empty segments (path traversal), or repeat another name ignoring
 * case; symbolic links (Unix mode in the external attributes); encrypted entries; files larger than
 * `maxFileBytes`, packages larger than `maxTotalBytes` uncompressed, and entries whose
 * uncompressed / compressed ratio exceeds `maxRatio` (zip bombs). Declared sizes are checked first,
 * then the inflated bytes are counted while streaming and reading aborts past the limits (declared
 * sizes can lie). Finally `main-template.json` must sit at the root (not in a wrapping folder).
 */
export async function readPackageZip(zip: Buffer, limits: ZipLimits = DEFAULT_ZIP_LIMITS): Promise<ReadPackageResult> {
  let zipfile: yauzl.ZipFile;
  try {
    zipfile = await openZip(zip);
  } catch (err) {
    return fail({ code: 'InvalidZip', target: 'package', message: `The package is not a valid zip file (${(err as Error).message}).` });
  }
  try {
    if (zipfile.entryCount > limits.maxEntries) {
      return fail({ code: 'TooManyEntries', target: 'package', message: `The package has ${zipfile.entryCount} entries; at most ${limits.maxEntries} are allowed.` });
    }
    const problems: ErrorDetail[] = [];
    const files: PackageFile[] = [];
    const seen = new Map<string, string>();
    let declaredTotal = 0;
    let actualTotal = 0;
    let sizeAbort = false;

    for (;;) {
      let entry: yauzl.Entry | null;
      try {
        entry = await nextEntry(zipfile);
      } catch (err) {
        // A corrupt central directory record (e.g. a stored entry whose sizes disagree): refuse, never a 500.
        problems.push({ code: 'InvalidZip', target: 'package', message: `The package is not a valid zip file (${(err as Error).message}).` });
        break;
      }
      if (!entry) break;
      const raw = (entry.fileNameRaw ?? (entry.fileName as unknown as Buffer));
      const name = decodeName(raw);
      if (name === null) {
        problems.push({
          code: 'NonUtf8EntryName',
          target: entryTarget(`<0x${raw.toString('hex')}>`),
          message: `Entry name bytes 0x${raw.toString('hex')} are not valid UTF-8. Zip the package with a tool that writes UTF-8 names.`,
        });
        continue;
      }
      const nameProblem = checkName(name);
      if (nameProblem) {
        problems.push({ ...nameProblem, target: entryTarget(name) });
        continue;
      }
      const isDir = name.endsWith('/');
      const key = (isDir ? name.slice(0, -1) : name).toLowerCase();
      const previous = seen.get(key);
      if (previous !== undefined) {
        problems.push({ code: 'DuplicateEntry', target: entryTarget(name), message: `Entry '${name}' duplicates '${previous}' (names are compared ignoring case).` });
        continue;
      }
      seen.set(key, name);
      const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
      if (mode === S_IFLNK) {
        problems.push({ code: 'SymlinkEntry', target: entryTarget(name), message: `Entry '${name}' is a symbolic link; packages may only hold regular files and folders.` });
        continue;
      }
      if (isDir) continue;
      if (entry.isEncrypted()) {
        problems.push({ code: 'EncryptedEntry', target: entryTarget(name), message: `Entry '${name}' is encrypted; packages must not be password-protected.` });
        continue;
      }
      if (sizeAbort) continue;
      // Declared sizes first (cheap, before inflating anything).
      const declared = entry.uncompressedSize;
      if (declared > limits.maxFileBytes) {
        problems.push(tooLargeFile(name, declared, limits));
        continue;
      }
      if (declared > limits.ratioMinBytes && declared > entry.compressedSize * limits.maxRatio) {
        problems.push(bomb(name, declared, entry.compressedSize, limits));
        sizeAbort = true;
        continue;
      }
      declaredTotal += declared;
      if (declaredTotal > limits.maxTotalBytes) {
        problems.push(tooLargeTotal(name, limits));
        sizeAbort = true;
        continue;
      }
      if (problems.length) continue; // already refused: do not inflate further data
      // Then count the bytes actually inflated (declared sizes can lie).
      const budget = Math.min(limits.maxFileBytes, declared, limits.maxTotalBytes - actualTotal);
      const read = await readEntry(zipfile, entry, budget);
      if ('error' in read) {
        problems.push({ code: 'InvalidZip', target: entryTarget(name), message: `Entry '${name}' cannot be read (${read.error}).` });
        sizeAbort = true;
        continue;
      }
      if ('exceeded' in read) {
        problems.push({
          code: 'EntrySizeMismatch',
          target: entryTarget(name),
          message: `Entry '${name}' inflates to more than its declared ${declared} bytes or past the package limits; reading was aborted (possible zip bomb).`,
        });
        sizeAbort = true;
        continue;
      }
      actualTotal += read.data.length;
      files.push({ path: name, data: read.data });
    }

    if (!problems.length && !files.some((f) => f.path === MAIN_TEMPLATE)) {
      const nested = files.find((f) => f.path.toLowerCase().endsWith(`/${MAIN_TEMPLATE}`));
      const other = files.find((f) => f.path.toLowerCase() === MAIN_TEMPLATE);
      problems.push({
        code: 'MainTemplateMissing',
        target: entryTarget(MAIN_TEMPLATE),
        message: nested
          ? `'${MAIN_TEMPLATE}' must be at the root of the zip, not in '${nested.path}'. Zip the folder's contents, not the folder.`
          : other
            ? `The root must hold '${MAIN_TEMPLATE}' (exact, lower case); found '${other.path}'.`
            : `The package must hold '${MAIN_TEMPLATE}' at its root.`,
      });
    }
    return problems.length ? { ok: false, problems } : { ok: true, files, totalBytes: actualTotal };
  } finally {
    zipfile.close();
  }
}

function fail(p: ErrorDetail): ReadPackageResult {
  return { ok: false, problems: [p] };
}

function tooLargeFile(name: string, bytes: number, l: ZipLimits): ErrorDetail {
  return { code: 'EntryTooLarge', target: entryTarget(name), message: `Entry '${name}' is ${bytes} bytes uncompressed; at most ${l.maxFileBytes} bytes per file.` };
}

function tooLargeTotal(name: string, l: ZipLimits): ErrorDetail {
  return { code: 'PackageTooLarge', target: entryTarget(name), message: `The package exceeds ${l.maxTotalBytes} bytes uncompressed (reached at entry '${name}').` };
}

function bomb(name: string, declared: number, compressed: number, l: ZipLimits): ErrorDetail {
  return {
    code: 'CompressionRatioTooHigh',
    target: entryTarget(name),
    message: `Entry '${name}' expands from ${compressed} to ${declared} bytes (ratio above ${l.maxRatio}:1); refused as a possible zip bomb.`,
  };
}

/**
 * The entry name as UTF-8, or null. With the UTF-8 flag (general purpose bit 11) the bytes must be
 * valid UTF-8; without it they are accepted when plain ASCII or valid UTF-8 (many tools omit the flag),
 * never re-interpreted as CP437.
 */
function decodeName(raw: Buffer): string | null {
  try {
    return utf8.decode(raw);
  } catch {
    return null;
  }
}

/** The path rule a name breaks, or null. */
function checkName(name: string): Omit<ErrorDetail, 'target'> | null {
  if (!name.length) return { code: 'InvalidEntryName', message: 'An entry has an empty name.' };
  if (name.length > ENTRY_MAX_NAME_CHARS) return { code: 'InvalidEntryName', message: `Entry name is longer than ${ENTRY_MAX_NAME_CHARS} characters.` };
  if (name.includes('\\')) return { code: 'BackslashInEntryName', message: `Entry '${name}' contains a backslash; zip entries must use '/' separators.` };
  if (/[\x00-\x1f\x7f]/.test(name)) return { code: 'InvalidEntryName', message: `Entry name contains control characters.` };
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) return { code: 'AbsoluteEntryPath', message: `Entry '${name}' is an absolute path; entries must be relative to the zip root.` };
  const segments = (name.endsWith('/') ? name.slice(0, -1) : name).split('/');
  if (segments.some((s) => s === '..')) return { code: 'PathTraversal', message: `Entry '${name}' contains '..' (path traversal).` };
  if (segments.some((s) => s === '.' || s === '')) return { code: 'InvalidEntryName', message: `Entry '${name}' contains an empty or '.' path segment.` };
  return null;
}

function openZip(buf: Buffer): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.fromBuffer(buf, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: false }, (err, zf) => (err ? reject(err) : resolve(zf))),
  );
}

/** The next central directory entry, or null at the end. Rejects on a corrupt directory. */
function nextEntry(zf: yauzl.ZipFile): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    const onEntry = (e: yauzl.Entry) => done(() => resolve(e));
    const onEnd = () => done(() => resolve(null));
    const onError = (err: Error) => done(() => reject(err));
    const done = (f: () => void) => {
      zf.off('entry', onEntry);
      zf.off('end', onEnd);
      zf.off('error', onError);
      f();
    };
    zf.on('entry', onEntry);
    zf.on('end', onEnd);
    zf.on('error', onError);
    zf.readEntry();
  });
}

/** Inflates one entry, counting bytes; stops (destroying the stream) once more than `budget` bytes arrive. */
function readEntry(zf: yauzl.ZipFile, entry: yauzl.Entry, budget: number): Promise<{ data: Buffer } | { exceeded: true } | { error: string }> {
  return new Promise((resolve) => {
    zf.openReadStream(entry, (err, stream: Readable) => {
      if (err) return resolve({ error: err.message });
      const chunks: Buffer[] = [];
      let n = 0;
      let settled = false;
      const settle = (v: { data: Buffer } | { exceeded: true } | { error: string }) => {
        if (!settled) {
          settled = true;
          resolve(v);
        }
      };
      stream.on('data', (c: Buffer) => {
        n += c.length;
        if (n > budget) {
          stream.destroy();
          settle({ exceeded: true });
          return;
        }
        chunks.push(c);
      });
      stream.on('error', (e: Error) => settle(/too many bytes|bytes in the stream/.test(e.message) ? { exceeded: true } : { error: e.message }));
      stream.on('end', () => settle({ data: Buffer.concat(chunks, n) }));
    });
  });
}
