/**
 * Date helpers of the workflow expression functions convertTimeZone, convertToUtc, convertFromUtc,
 * parseDateTime and dateDifference. Workflow Definition Language reference ("Reference guide to
 * workflow expression functions"): timestamps are ISO 8601 strings (the invariant "M/d/yyyy h:mm:ss"
 * form is accepted too); converted local times are returned in the "o" format without a zone designator
 * ("2018-01-01T00:00:00.0000000"), UTC results with "Z"; dateDifference returns a .NET TimeSpan string
 * ("[-][d.]hh:mm:ss[.fffffff]"); parseDateTime takes an optional locale (default en-US) and .NET format.
 */
import { formatDateTime } from '../../arm/template/datetime';
import { invalidTemplate } from './errors';

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** A parsed timestamp: its wall clock (ms whose UTC fields are the written fields) and its offset when written. */
export interface WallTime {
  wallMs: number;
  /** ms, undefined when the timestamp has no 'Z' / '+hh:mm'. */
  offsetMs?: number;
}

function badTimestamp(fn: string, s: string): Error {
  return invalidTemplate(`The template language function '${fn}' expects a timestamp in ISO 8601 format. The provided value '${s.slice(0, 100)}' is not valid.`);
}

function offsetOf(z: string | undefined): number | undefined {
  if (!z) return undefined;
  if (z === 'Z' || z === 'z') return 0;
  const m = /^([+-])(\d\d):?(\d\d)$/.exec(z);
  return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000 : undefined;
}

/** Parses an ISO 8601 timestamp (or the invariant "M/d/yyyy[ h:mm[:ss][ AM|PM]]" form) into its wall clock. */
export function parseWall(fn: string, s: string): WallTime {
  const iso = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d{1,7}))?)?)?\s*(Z|z|[+-]\d\d:?\d\d)?$/.exec(s.trim());
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d\d)(?::(\d\d)(?:\.(\d{1,7}))?)?\s*(AM|PM)?)?\s*(Z|[+-]\d\d:?\d\d)?$/i.exec(s.trim());
  let y: number, mo: number, d: number, h = 0, mi = 0, sec = 0, frac = '0', zone: string | undefined;
  if (iso) {
    [y, mo, d] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
    [h, mi, sec, frac, zone] = [Number(iso[4] ?? 0), Number(iso[5] ?? 0), Number(iso[6] ?? 0), iso[7] ?? '0', iso[8]];
  } else if (us) {
    [mo, d, y] = [Number(us[1]), Number(us[2]), Number(us[3])];
    [h, mi, sec, frac, zone] = [Number(us[4] ?? 0), Number(us[5] ?? 0), Number(us[6] ?? 0), us[7] ?? '0', us[9]];
    if (us[8]) h = (h % 12) + (us[8].toUpperCase() === 'PM' ? 12 : 0);
  } else throw badTimestamp(fn, s);
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  const wallMs = Date.UTC(y, mo - 1, d, h, mi, sec, ms);
  const check = new Date(wallMs);
  if (Number.isNaN(wallMs) || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || sec > 59) throw badTimestamp(fn, s);
  return { wallMs: y < 100 ? new Date(wallMs).setUTCFullYear(y) : wallMs, offsetMs: offsetOf(zone) };
}

/**
 * Formats a wall-clock time: the "o" format without zone designator by default (a DateTime of
 * unspecified kind in .NET), or `format` (a .NET standard or custom format).
 */
export function formatWall(wallMs: number, format: unknown, utc: boolean): string {
  const f = typeof format === 'string' && format ? format : 'o';
  if (f === 'o' || f === 'O') return formatDateTime(new Date(wallMs), 'yyyy-MM-ddTHH:mm:ss.fffffff') + (utc ? 'Z' : '');
  return formatDateTime(new Date(wallMs), f);
}

/** .NET TimeSpan.ToString() ("c"): `[-][d.]hh:mm:ss[.fffffff]`. */
export function timeSpan(ms: number): string {
  const neg = ms < 0;
  let rest = Math.abs(ms);
  const days = Math.floor(rest / 86_400_000);
  rest -= days * 86_400_000;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  const f = Math.round(rest - s * 1000);
  return `${neg ? '-' : ''}${days ? `${days}.` : ''}${pad(h)}:${pad(m)}:${pad(s)}${f ? `.${pad(f, 3)}0000` : ''}`;
}

/** Month names (long and short) of a locale, lower-case, index 0 = January. */
function monthNames(locale: string, kind: 'long' | 'short'): string[] {
  const f = new Intl.DateTimeFormat(locale, { month: kind, timeZone: 'UTC' });
  return Array.from({ length: 12 }, (_x, i) => f.format(new Date(Date.UTC(2000, i, 1))).toLowerCase().replace(/\.$/, ''));
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Checks a locale name (BCP 47 / .NET culture name); InvalidTemplate when Intl does not know it. */
export function checkLocale(fn: string, locale: string): string {
  try {
    return Intl.getCanonicalLocales(locale)[0] ?? 'en-US';
  } catch {
    throw invalidTemplate(`The template language function '${fn}' was invoked with a locale '${locale.slice(0, 40)}' that is not valid.`);
  }
}

/**
 * parseDateTime(timestamp, locale?, format?): parses with a .NET custom format (yyyy yy MMMM MMM MM M dd d
 * HH H hh h mm m ss s f..fffffff tt zzz K, 'literals'), else as ISO 8601, else as the locale's short date
 * (day/month/year order from Intl) with an optional time. Returns the "o" format without zone designator,
 * or in UTC with "Z" when the text carries an offset.
 */
export function parseDateTime(fn: string, text: string, locale: string, format?: string): string {
  const loc = checkLocale(fn, locale);
  const fail = (): Error => invalidTemplate(`The template language function '${fn}' could not parse '${text.slice(0, 100)}' as a timestamp${format ? ` with the format '${format.slice(0, 40)}'` : ''} for the locale '${loc}'.`);
  let y = 1, mo = 1, d = 1, h = 0, mi = 0, sec = 0, ms = 0, pm: boolean | undefined, offset: number | undefined;
  if (format) {
    const setters: Array<(v: string) => void> = [];
    let re = '';
    let i = 0;
    const longM = monthNames(loc, 'long');
    const shortM = monthNames(loc, 'short');
    const tok: Array<[RegExp, string, (v: string) => void]> = [
      [/^yyyy/, '(\\d{4})', (v) => (y = Number(v))],
      [/^yy/, '(\\d{2})', (v) => (y = 2000 + Number(v))],
      [/^MMMM/, '([^\\d\\s,]+)', (v) => (mo = longM.indexOf(v.toLowerCase()) + 1)],
      [/^MMM/, '([^\\d\\s,]+)', (v) => (mo = shortM.indexOf(v.toLowerCase().replace(/\.$/, '')) + 1)],
      [/^MM/, '(\\d{2})', (v) => (mo = Number(v))],
      [/^M/, '(\\d{1,2})', (v) => (mo = Number(v))],
      [/^dddd|^ddd/, '(?:[^\\d\\s,]+)', () => undefined],
      [/^dd/, '(\\d{2})', (v) => (d = Number(v))],
      [/^d/, '(\\d{1,2})', (v) => (d = Number(v))],
      [/^HH|^hh/, '(\\d{2})', (v) => (h = Number(v))],
      [/^H|^h/, '(\\d{1,2})', (v) => (h = Number(v))],
      [/^mm/, '(\\d{2})', (v) => (mi = Number(v))],
      [/^m/, '(\\d{1,2})', (v) => (mi = Number(v))],
      [/^ss/, '(\\d{2})', (v) => (sec = Number(v))],
      [/^s/, '(\\d{1,2})', (v) => (sec = Number(v))],
      [/^f{1,7}/, '', () => undefined],
      [/^tt/, '(AM|PM)', (v) => (pm = v.toUpperCase() === 'PM')],
      [/^zzz|^K/, '(Z|[+-]\\d\\d:?\\d\\d)', (v) => (offset = offsetOf(v))],
    ];
    outer: while (i < format.length) {
      const rest = format.slice(i);
      if (rest[0] === "'" || rest[0] === '"') {
        const end = rest.indexOf(rest[0], 1);
        const lit = end < 0 ? rest.slice(1) : rest.slice(1, end);
        re += escapeRe(lit);
        i += end < 0 ? rest.length : end + 1;
        continue;
      }
      for (const [t, pattern, set] of tok) {
        const m = t.exec(rest);
        if (!m) continue;
        if (m[0].startsWith('f')) {
          re += `(\\d{${m[0].length}})`;
          setters.push((v) => (ms = Number(v.padEnd(3, '0').slice(0, 3))));
        } else {
          re += pattern;
          if (pattern.startsWith('(') && !pattern.startsWith('(?:')) setters.push(set);
        }
        i += m[0].length;
        continue outer;
      }
      re += escapeRe(rest[0]);
      i++;
    }
    const m = new RegExp(`^${re}$`, 'i').exec(text.trim());
    if (!m) throw fail();
    setters.forEach((set, k) => set(m[k + 1]));
    if (pm !== undefined) h = (h % 12) + (pm ? 12 : 0);
  } else {
    try {
      const w = parseWall(fn, text);
      return w.offsetMs === undefined ? formatWall(w.wallMs, 'o', false) : formatWall(w.wallMs - w.offsetMs, 'o', true);
    } catch {
      // not ISO: the locale's short date
    }
    const order = new Intl.DateTimeFormat(loc, { timeZone: 'UTC' }).formatToParts(new Date(Date.UTC(2000, 10, 22))).filter((p) => ['day', 'month', 'year'].includes(p.type)).map((p) => p.type);
    const m = /^(\d{1,4})\D(\d{1,2})\D(\d{1,4})\.?(?:[\sT]+(\d{1,2}):(\d\d)(?::(\d\d))?\s*(AM|PM)?)?$/i.exec(text.trim());
    if (!m) throw fail();
    const values: Record<string, number> = {};
    order.forEach((k, idx) => (values[k] = Number(m[idx + 1])));
    [y, mo, d] = [values.year, values.month, values.day];
    [h, mi, sec] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
    if (m[7]) h = (h % 12) + (m[7].toUpperCase() === 'PM' ? 12 : 0);
  }
  const wall = Date.UTC(y, mo - 1, d, h, mi, sec, ms);
  const c = new Date(wall);
  if (Number.isNaN(wall) || mo < 1 || c.getUTCMonth() !== mo - 1 || c.getUTCDate() !== d || h > 23 || mi > 59 || sec > 59) throw fail();
  return offset === undefined ? formatWall(wall, 'o', false) : formatWall(wall - offset, 'o', true);
}
