import { escapeHtml, sanitizeAccessHtml } from './access-html';

/** Issue 8, hole 4: the allow-list applied to access information on save and after rendering. */
describe('sanitizeAccessHtml', () => {
  it.each([
    ['<script>alert(1)</script><p>ok</p>', '<p>ok</p>'],
    ['<p onclick="alert(1)" style="color:red" class="x" id="y">t</p>', '<p>t</p>'],
    ['<a href="javascript:alert(1)">x</a>', '<a>x</a>'],
    ['<a href="JaVaScRiPt&colon;alert(1)">x</a>', '<a>x</a>'],
    ['<a href="data:text/html,x">x</a>', '<a>x</a>'],
    ['<a href="http://example.com">x</a>', '<a>x</a>'],
    ['<a href="//example.com">x</a>', '<a>x</a>'],
    ['<a href="https://example.com" target="_top" rel="opener">x</a>', '<a href="https://example.com">x</a>'],
    ['<a href="https://example.com" target="_blank">x</a>', '<a href="https://example.com" target="_blank" rel="noopener noreferrer">x</a>'],
    ['<img src="data:image/png;base64,AA" onerror="alert(1)"><img src="https://example.com/l.png" alt="logo">', '<img /><img src="https://example.com/l.png" alt="logo" />'],
    ['<iframe src="https://evil.example.com/"></iframe><iframe src="https://app.powerbi.com/view?r=1"></iframe>', '<iframe></iframe><iframe src="https://app.powerbi.com/view?r=1"></iframe>'],
    ['<svg><script>alert(1)</script></svg><object data="x"></object><embed src="x"><form action="https://x"><input></form>', ''],
    ['<style>body{display:none}</style><noscript>n</noscript>text', 'text'],
    ['<table><tr><td colspan="2" onclick="x">1</td></tr></table>', '<table><tr><td colspan="2">1</td></tr></table>'],
    ['<p>Open <a href="{{siteUrl}}">{{siteUrl}}</a> as {{ User Name }}</p>', '<p>Open <a href="{{siteUrl}}">{{siteUrl}}</a> as {{ User Name }}</p>'],
  ])('%p -> %p', (input, output) => {
    expect(sanitizeAccessHtml(input)).toBe(output);
  });

  it('is idempotent on the repository templates and defaults', () => {
    const fs = jest.requireActual<typeof import('node:fs')>('node:fs');
    const path = jest.requireActual<typeof import('node:path')>('node:path');
    for (const f of ['templates/arm/sample-webapp/access-information.html', 'templates/logicapp/dynamics-user/access-information.html']) {
      const once = sanitizeAccessHtml(fs.readFileSync(path.join(__dirname, '..', '..', f), 'utf8'));
      expect(sanitizeAccessHtml(once)).toBe(once);
      expect(once).toContain('{{');
    }
  });

  it('escapeHtml escapes & < > " \' and `', () => {
    expect(escapeHtml(`a&b<c>"d'e\`f`)).toBe('a&#38;b&#60;c&#62;&#34;d&#39;e&#96;f');
  });
});
