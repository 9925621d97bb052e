import { outputsAsStrings, renderAccessInformation } from './access-information';

describe('access information', () => {
  it('turns ARM outputs into strings, objects as JSON', () => {
    expect(outputsAsStrings({ a: { type: 'string', value: 'x' }, n: { type: 'int', value: 3 }, o: { type: 'object', value: { k: 1 } }, z: { type: 'string', value: null } })).toEqual({
      a: 'x',
      n: '3',
      o: '{"k":1}',
      z: '',
    });
  });

  it('fills {{placeholders}}, tolerating spaces and case, leaving unknown ones', () => {
    const text = '<p>Go to {{siteUrl}} as {{ User Name }} / {{password}} {{missing}}</p>';
    expect(renderAccessInformation(text, { siteUrl: 'https://x', 'user name': 'admin12345', password: 'p@ss' })).toBe(
      '<p>Go to https://x as admin12345 / p@ss {{missing}}</p>',
    );
  });

  it('returns null without a template', () => {
    expect(renderAccessInformation(undefined, {})).toBeNull();
  });
});

/** Issue 8, hole 4: access information is HTML shown to the customer; publisher text and output values cannot add script. */
describe('access information is safe HTML', () => {
  it('HTML-escapes values placed in text, so a value cannot open a tag', () => {
    const out = renderAccessInformation('<p>Hello {{name}}</p>', { name: '<script>alert(1)</script><img src=x onerror=alert(1)>' });
    expect(out).toBe('<p>Hello &lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;</p>');
  });

  it('keeps a value with quotes and angle brackets inside its attribute (no break-out of the link)', () => {
    const url = 'https://app.powerbi.com/x"><script>alert(1)</script>';
    const out = renderAccessInformation('<a href="{{u}}" target="_blank">{{u}}</a>', { u: url })!;
    expect(out).not.toContain('<script');
    expect(out).toBe('<a href="https://app.powerbi.com/x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" target="_blank" rel="noopener noreferrer">https://app.powerbi.com/x"&gt;&lt;script&gt;alert(1)&lt;/script&gt;</a>');
  });

  it.each(['javascript:alert(1)', 'JAVASCRIPT:alert(1)', ' javascript:alert(1)', 'java\tscript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'vbscript:x', 'http://plain.example.com', '//evil.example.com'])(
    'drops a link whose filled-in URL is %p',
    (value) => {
      const out = renderAccessInformation('<a href="{{siteUrl}}">open</a>', { siteUrl: value })!;
      expect(out).toBe('<a>open</a>');
    },
  );

  it('keeps https links filled in from outputs, escaping & in them', () => {
    expect(renderAccessInformation('<a href="{{siteUrl}}">{{siteUrl}}</a>', { siteUrl: 'https://x.example.com/?a=1&b=2' })).toBe('<a href="https://x.example.com/?a=1&amp;b=2">https://x.example.com/?a=1&amp;b=2</a>');
  });

  it('removes script, event handlers and javascript: links that reached a stored template', () => {
    const out = renderAccessInformation('<p onclick="alert(1)">Hi {{n}}</p><script>alert(2)</script><a href="javascript:alert(3)">x</a><iframe src="https://evil.example.com"></iframe>', { n: 'Ada' });
    expect(out).toBe('<p>Hi Ada</p><a>x</a><iframe></iframe>');
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', ' constructor '])('leaves {{%s}} unrendered (no prototype lookups)', (name) => {
    expect(renderAccessInformation(`<p>{{${name}}}</p>`, { siteUrl: 'https://x' })).toBe(`<p>{{${name}}}</p>`);
  });

  it('still fills an output that is really called constructor', () => {
    expect(renderAccessInformation('{{constructor}}', { constructor: 'Ada' })).toBe('Ada');
  });

  it('does not render values inside values (one pass)', () => {
    expect(renderAccessInformation('{{a}}', { a: '{{b}}', b: 'secret' })).toBe('{{b}}');
  });
});
