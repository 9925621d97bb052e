/**
 * Locale-aware numbers of the workflow expression functions formatNumber, float, isFloat and decimal.
 * Workflow Definition Language reference ("Reference guide to workflow expression functions"):
 * formatNumber(number, format, locale?) takes a .NET numeric format string — standard (C, D, E, F, G, N,
 * P, X with a precision) or custom ("0.00", "#,##0.00", "0%") — and a locale (default en-US);
 * float('10,000.333') and float('10.000,333', 'de-DE') read group and decimal separators of the locale.
 * Separators and digits come from Intl.NumberFormat.
 */
import { checkLocale } from './dates';
import { invalidTemplate, unsupported } from './errors';

/** Group and decimal separators of a locale. */
function separators(locale: string): { group: string; decimal: string } {
  const parts = new Intl.NumberFormat(locale).formatToParts(12345.6);
  return { group: parts.find((p) => p.type === 'group')?.value ?? ',', decimal: parts.find((p) => p.type === 'decimal')?.value ?? '.' };
}

/** Parses a number written in a locale (group separators allowed); undefined when it is not one. */
export function parseLocaleNumber(fn: string, text: string, locale = 'en-US'): number | undefined {
  const { group, decimal } = separators(checkLocale(fn, locale));
  let t = text.trim();
  if (!t) return undefined;
  // group separators only before the decimal separator (.NET NumberStyles.AllowThousands)
  const at = t.indexOf(decimal);
  const intPart = (at < 0 ? t : t.slice(0, at)).split(group).join('').replace(/\u00a0|\u202f/g, '');
  const fracPart = at < 0 ? '' : t.slice(at + decimal.length);
  if (decimal !== '.' && intPart.includes('.')) return undefined;
  t = at < 0 ? intPart : `${intPart}.${fracPart}`;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** Currency of a locale for the "C" format (Intl knows no locale → currency mapping). */
const CURRENCY: Record<string, string> = {
  US: 'USD', GB: 'GBP', DE: 'EUR', FR: 'EUR', ES: 'EUR', IT: 'EUR', NL: 'EUR', BE: 'EUR', AT: 'EUR', IE: 'EUR', FI: 'EUR', PT: 'EUR',
  IS: 'ISK', JP: 'JPY', CN: 'CNY', IN: 'INR', CA: 'CAD', AU: 'AUD', NZ: 'NZD', CH: 'CHF', SE: 'SEK', NO: 'NOK', DK: 'DKK', PL: 'PLN', BR: 'BRL', MX: 'MXN', KR: 'KRW', ZA: 'ZAR',
};

/** formatNumber(number, format, locale). */
export function formatNumber(fn: string, value: number, format: string, locale = 'en-US'): string {
  const loc = checkLocale(fn, locale);
  const std = /^([CcDdEeFfGgNnPpXx])(\d{0,2})$/.exec(format);
  if (std) {
    const kind = std[1].toUpperCase();
    const prec = std[2] === '' ? undefined : Number(std[2]);
    switch (kind) {
      case 'C': {
        const region = new Intl.Locale(loc).maximize().region ?? 'US';
        const currency = CURRENCY[region];
        if (!currency) throw unsupported(`formatNumber() with the 'C' format needs the currency of locale '${loc}', which the local emulator does not know.`);
        const digits = prec ?? new Intl.NumberFormat(loc, { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
        return new Intl.NumberFormat(loc, { style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
      }
      case 'D':
        if (!Number.isInteger(value)) throw invalidTemplate(`The template language function '${fn}' format 'D' expects an integer.`);
        return (value < 0 ? '-' : '') + String(Math.abs(value)).padStart(prec ?? 0, '0');
      case 'X':
        if (!Number.isInteger(value)) throw invalidTemplate(`The template language function '${fn}' format 'X' expects an integer.`);
        return ((value < 0 ? 2 ** 32 + value : value).toString(16)[std[1] === 'X' ? 'toUpperCase' : 'toLowerCase']()).padStart(prec ?? 0, '0');
      case 'E': {
        const [m, e] = value.toExponential(prec ?? 6).split('e');
        const { decimal } = separators(loc);
        return `${m.replace('.', decimal)}${std[1]}${e.startsWith('-') ? '-' : '+'}${e.replace(/^[-+]/, '').padStart(3, '0')}`;
      }
      case 'F':
      case 'N': {
        const digits = prec ?? 2;
        return new Intl.NumberFormat(loc, { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: kind === 'N' }).format(value);
      }
      case 'P': {
        const digits = prec ?? 2;
        return new Intl.NumberFormat(loc, { style: 'percent', minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
      }
      default:
        return prec === undefined ? new Intl.NumberFormat(loc, { useGrouping: false, maximumFractionDigits: 15 }).format(value) : new Intl.NumberFormat(loc, { useGrouping: false, maximumSignificantDigits: Math.max(1, prec) }).format(value);
    }
  }
  // custom format: [prefix] digits with 0 # , . [%] [suffix]
  const m = /^([^0#,.%]*)([0#,]*)(?:\.([0#]*))?(%?)([^0#,.]*)$/.exec(format);
  if (!m || !/[0#]/.test(format)) throw unsupported(`formatNumber() format '${format.slice(0, 40)}' is not supported by the local emulator (supported: standard C, D, E, F, G, N, P, X formats and custom formats of 0 # , . %).`);
  const [, prefix, intPart, fracPart = '', percent, suffix] = m;
  const minFrac = (fracPart.match(/0/g) ?? []).length;
  const maxFrac = fracPart.length;
  const minInt = Math.max(1, (intPart.match(/0/g) ?? []).length);
  const text = new Intl.NumberFormat(loc, { minimumFractionDigits: minFrac, maximumFractionDigits: maxFrac, minimumIntegerDigits: minInt, useGrouping: intPart.includes(',') }).format(percent ? value * 100 : value);
  const unquote = (s: string): string => s.replace(/['"]/g, '');
  return `${unquote(prefix)}${text}${percent}${unquote(suffix)}`;
}
