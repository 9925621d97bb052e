/**
 * Deployment outputs as the customer sees them: every value a string, objects as JSON
 * (test drive rules: "every output value is shown to the customer as a string").
 * Input: ARM outputs `{ name: { type, value } }` or plain `{ name: value }`.
 */
export function outputsAsStrings(outputs: Record<string, unknown> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(outputs ?? {})) {
    const v = raw && typeof raw === 'object' && 'value' in (raw as object) ? (raw as { value: unknown }).value : raw;
    out[name] = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  }
  return out;
}

/**
 * Fills the publisher's access information text: each `{{outputName}}` becomes that output's value
 * (names match case-insensitively, spaces inside the braces allowed: `{{ Host Name }}`). Unknown
 * placeholders are left as they are so the publisher can see what did not match.
 */
export function renderAccessInformation(template: string | undefined | null, outputs: Record<string, string>): string | null {
  if (!template) return null;
  const lower = new Map(Object.entries(outputs).map(([k, v]) => [k.toLowerCase(), v]));
  return template.replace(/\{\{\s*([^{}]+?)\s*\}\}/g, (whole, name: string) => {
    const v = outputs[name] ?? lower.get(name.toLowerCase());
    return v === undefined ? whole : v;
  });
}
