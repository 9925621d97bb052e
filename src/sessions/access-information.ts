import { escapeHtml, sanitizeAccessHtml } from '../security/access-html';

/**
 * Deployment outputs as the customer sees them: every value a string, objects as JSON
 * (test drive rules: "every output value is shown to the customer as a string").
 * Input: ARM outputs `{ name: { type, value } }` or plain `{ name: value }`.
 */
export function outputsAsStrings(outputs: Record<string, unknown> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(outputs ?? {})) {
    const v = raw && typeof raw === 'object' && 'value' in (raw) ? (raw).value : raw;
    out[name] = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

/**
 * Fills the publisher's access information text: each `{{outputName}}` becomes that output's value
 * (names match case-insensitively, spaces inside the braces allowed: `{{ Host Name }}`). Unknown
 * placeholders are left as they are so the publisher can see what did not match.
 *
 * Safe to show as HTML (issue 8, hole 4): values are HTML-escaped before they are placed (so a value
 * cannot close an attribute or open a tag), the result goes through the access information sanitiser
 * again (src/security/access-html.ts: a value such as `javascript:alert(1)` that lands in an href is
 * dropped), and names are looked up among the outputs' own names only (`{{constructor}}`,
 * `{{__proto__}}`, `{{toString}}` stay as they are unless an output has that name).
 * @returns the rendered HTML, or null without a template.
 */
export function renderAccessInformation(template: string | undefined | null, outputs: Record<string, string>): string | null {
  if (!template) return null;
  const exact = new Map<string, string>();
  const lower = new Map<string, string>();
  for (const [k, v] of Object.entries(outputs)) {
    if (typeof v !== 'string') continue;
    exact.set(k, v);
    if (!lower.has(k.toLowerCase())) lower.set(k.toLowerCase(), v);
  }
  const filled = template.replace(/\{\{\s*([^{}]+?)\s*\}\}/g, (whole, name: string) => {
    const v = exact.get(name) ?? lower.get(name.toLowerCase());
    return v === undefined ? whole : escapeHtml(v);
  });
  return sanitizeAccessHtml(filled);
}
