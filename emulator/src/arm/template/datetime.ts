const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/**
 * Formats a UTC date with a .NET date/time format string (ARM docs: utcNow(format),
 * dateTimeAdd(..., format)). Supports standard formats u, s, o/O, d, D, t, T, g, G, r/R and the
 * custom specifiers yyyy yy MMMM MMM MM M dddd ddd dd d HH H hh h mm m ss s fffffff..f tt K Z and
 * 'quoted' literals; other characters are copied.
 */
export function formatDateTime(d: Date, format: string): string {
  const Y = d.getUTCFullYear();
  const M = d.getUTCMonth() + 1;
  const D = d.getUTCDate();
  const h = d.getUTCHours();
  const mi = d.getUTCMinutes();
  const s = d.getUTCSeconds();
  const ms = d.getUTCMilliseconds();
  const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
  const days = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  switch (format) {
    case 'u':
      return `${Y}-${pad(M)}-${pad(D)} ${pad(h)}:${pad(mi)}:${pad(s)}Z`;
    case 's':
      return `${Y}-${pad(M)}-${pad(D)}T${pad(h)}:${pad(mi)}:${pad(s)}`;
    case 'o':
    case 'O':
      return `${Y}-${pad(M)}-${pad(D)}T${pad(h)}:${pad(mi)}:${pad(s)}.${pad(ms, 3)}0000Z`;
    case 'd':
      return `${M}/${D}/${Y}`;
    case 'D':
      return `${days[d.getUTCDay()]}, ${months[M - 1]} ${D}, ${Y}`;
    case 't':
      return `${h % 12 || 12}:${pad(mi)} ${h < 12 ? 'AM' : 'PM'}`;
    case 'T':
      return `${h % 12 || 12}:${pad(mi)}:${pad(s)} ${h < 12 ? 'AM' : 'PM'}`;
    case 'g':
      return `${M}/${D}/${Y} ${h % 12 || 12}:${pad(mi)} ${h < 12 ? 'AM' : 'PM'}`;
    case 'G':
      return `${M}/${D}/${Y} ${h % 12 || 12}:${pad(mi)}:${pad(s)} ${h < 12 ? 'AM' : 'PM'}`;
    case 'r':
    case 'R':
      return d.toUTCString();
    default:
      break;
  }
  const tokens: Array<[RegExp, () => string]> = [
    [/^yyyy/, () => String(Y).padStart(4, '0')],
    [/^yy/, () => pad(Y % 100)],
    [/^MMMM/, () => months[M - 1]],
    [/^MMM/, () => months[M - 1].slice(0, 3)],
    [/^MM/, () => pad(M)],
    [/^M/, () => String(M)],
    [/^dddd/, () => days[d.getUTCDay()]],
    [/^ddd/, () => days[d.getUTCDay()].slice(0, 3)],
    [/^dd/, () => pad(D)],
    [/^d/, () => String(D)],
    [/^HH/, () => pad(h)],
    [/^H/, () => String(h)],
    [/^hh/, () => pad(h % 12 || 12)],
    [/^h/, () => String(h % 12 || 12)],
    [/^mm/, () => pad(mi)],
    [/^m/, () => String(mi)],
    [/^ss/, () => pad(s)],
    [/^s/, () => String(s)],
    [/^tt/, () => (h < 12 ? 'AM' : 'PM')],
    [/^K/, () => 'Z'],
  ];
  let out = '';
  let i = 0;
  outer: while (i < format.length) {
    const rest = format.slice(i);
    const f = /^f{1,7}/i.exec(rest);
    if (f) {
      out += `${pad(ms, 3)}0000`.slice(0, f[0].length);
      i += f[0].length;
      continue;
    }
    if (rest[0] === "'" || rest[0] === '"') {
      const end = rest.indexOf(rest[0], 1);
      out += end < 0 ? rest.slice(1) : rest.slice(1, end);
      i += end < 0 ? rest.length : end + 1;
      continue;
    }
    if (rest[0] === '\\' && rest.length > 1) {
      out += rest[1];
      i += 2;
      continue;
    }
    for (const [re, fn] of tokens) {
      const m = re.exec(rest);
      if (m) {
        out += fn();
        i += m[0].length;
        continue outer;
      }
    }
    out += rest[0];
    i++;
  }
  return out;
}

/**
 * Adds an ISO 8601 duration ("P1Y2M3DT4H5M6S", optionally with a leading "-") to a date, in UTC.
 * Returns undefined when the duration is not valid. ARM docs: dateTimeAdd(base, duration, format).
 */
export function addIsoDuration(base: Date, duration: string): Date | undefined {
  const m = /^(-)?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(duration.trim());
  if (!m || duration.trim() === 'P' || duration.trim().endsWith('T')) return undefined;
  const sign = m[1] ? -1 : 1;
  const n = (i: number): number => (m[i] ? Number(m[i]) : 0);
  const d = new Date(base.getTime());
  d.setUTCFullYear(d.getUTCFullYear() + sign * n(2));
  d.setUTCMonth(d.getUTCMonth() + sign * n(3));
  d.setUTCDate(d.getUTCDate() + sign * (n(4) * 7 + n(5)));
  d.setTime(d.getTime() + sign * ((n(6) * 3600 + n(7) * 60 + n(8)) * 1000));
  return d;
}
