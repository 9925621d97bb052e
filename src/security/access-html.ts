/**
 * The publisher's access information is HTML the marketplace shows to the customer (issue 8, hole 4:
 * stored cross-site scripting). One sanitiser, sanitize-html with an allow-list, is applied twice:
 * when an offer is saved (config-schemas.ts accessInformationSchema: the stored text is the sanitised
 * one) and again after the session's values were filled in (access-information.ts
 * renderAccessInformation), so neither the publisher nor a deployment output can add script.
 *
 * Allowed (everything else is removed; the text inside `script`, `style`, `textarea`, `option`,
 * `noscript` and the like is dropped with the tag, the text inside other refused tags is kept as text):
 * - formatting: p, br, hr, b, strong, i, em, u, s, small, sub, sup, blockquote, code, pre, kbd, h1-h4,
 *   span, div, ul, ol, li, dl, dt, dd, table, caption, thead, tbody, tfoot, tr, th, td (colspan, rowspan);
 * - a: href, target (`_blank` / `_self`), rel (only noopener, noreferrer, nofollow); `target="_blank"`
 *   always gets `rel="noopener noreferrer"` (OWASP HTML5 Security Cheat Sheet, "Tabnabbing");
 * - img: src, alt, title, width, height (a publisher's logo or screenshot);
 * - iframe: src only on a Power BI host (POWER_BI_SERVICE_HOSTS: the embedded dashboard of a Power BI
 *   test drive), width, height, title, allowfullscreen, frameborder.
 * URLs (href, src): `https:` only (no `javascript:`, `data:`, `http:`, `mailto:`...), no protocol-relative
 * `//host` (it inherits the page's scheme); a URL without a scheme is kept, so a placeholder such as
 * `href="{{siteUrl}}"` survives saving and is judged again once filled in. No `style`, no event
 * handlers, no `id`/`class` (they could restyle or target the marketplace's page).
 *
 * Source of the approach: OWASP Cross Site Scripting Prevention Cheat Sheet, rule 6 ("Sanitize HTML
 * markup with a library designed for the job") and rule 1 (HTML-escape untrusted data placed in HTML).
 */
import sanitizeHtml from 'sanitize-html';
import { POWER_BI_SERVICE_HOSTS } from './outbound-url';

/** Tags a publisher may use in access information. */
export const ACCESS_HTML_TAGS: readonly string[] = [
  'p', 'br', 'hr', 'b', 'strong', 'i', 'em', 'u', 's', 'small', 'sub', 'sup', 'blockquote', 'code', 'pre', 'kbd',
  'h1', 'h2', 'h3', 'h4', 'span', 'div', 'ul', 'ol', 'li', 'dl', 'dt', 'dd',
  'table', 'caption', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td',
  'a', 'img', 'iframe',
];

/** rel tokens kept on links. */
const REL_TOKENS = new Set(['noopener', 'noreferrer', 'nofollow']);

const OPTIONS: sanitizeHtml.IOptions = {
  allowedTags: [...ACCESS_HTML_TAGS],
  allowedAttributes: {
    a: ['href', 'target', 'rel', 'title'],
    img: ['src', 'alt', 'title', 'width', 'height'],
    iframe: ['src', 'width', 'height', 'title', 'allowfullscreen', 'frameborder'],
    th: ['colspan', 'rowspan'],
    td: ['colspan', 'rowspan'],
  },
  allowedSchemes: ['https'],
  allowedSchemesByTag: {},
  allowedSchemesAppliedToAttributes: ['href', 'src', 'cite', 'action', 'formaction', 'poster', 'background'],
  allowProtocolRelative: false,
  allowedIframeHostnames: POWER_BI_SERVICE_HOSTS.map((h) => h.host),
  // A placeholder src (`{{embedUrl}}`) parses as relative: kept on save, judged when rendered.
  allowIframeRelativeUrls: true,
  nonTextTags: ['script', 'style', 'textarea', 'option', 'noscript', 'title', 'template', 'xmp', 'noembed', 'noframes', 'plaintext'],
  disallowedTagsMode: 'discard',
  enforceHtmlBoundary: false,
  parseStyleAttributes: false,
  transformTags: {
    a: (tagName, attribs) => {
      const out: sanitizeHtml.Attributes = { ...attribs };
      const rel = (attribs.rel ?? '')
        .toLowerCase()
        .split(/\s+/)
        .filter((t) => REL_TOKENS.has(t));
      const target = (attribs.target ?? '').trim().toLowerCase();
      if (target === '_blank' || target === '_self') out.target = target;
      else delete out.target;
      if (target === '_blank') for (const t of ['noopener', 'noreferrer']) if (!rel.includes(t)) rel.push(t);
      if (rel.length) out.rel = rel.join(' ');
      else delete out.rel;
      return { tagName, attribs: out };
    },
  },
};

/**
 * `html` with everything outside the allow-list above removed (tags, attributes, URL schemes), as
 * canonical HTML (attributes double-quoted, `&`, `<`, `>` escaped in text, also `"` in attributes).
 * Idempotent: sanitising the result again gives the same text. Never throws.
 */
export function sanitizeAccessHtml(html: string): string {
  return sanitizeHtml(html, OPTIONS);
}

/** `value` HTML-escaped for text and quoted attribute values (& < > " ' and `). */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}
