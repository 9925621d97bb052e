import { parseJsonSource, parseTemplate, sourcePosition } from './source';

/** ARM reads templates with comments (quickstarts such as 301-web-app-regional-vnet-private-endpoint-sql-storage carry `//` notes). */
describe('template source: comments', () => {
  const text = [
    '{',
    '  // a line comment before the schema',
    '  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",',
    '  "contentVersion": "1.0.0.0", /* a block',
    '     comment */',
    '  "variables": { "kind": "blob", // valid values: \'blob\', \'file\'',
    '    "url": "https://example.com/a//b" },',
    '  "resources": []',
    '}',
  ].join('\r\n');

  it('parses // and /* */ comments, leaving "//" inside strings alone', () => {
    const t = parseTemplate(text);
    expect(t.variables).toEqual({ kind: 'blob', url: 'https://example.com/a//b' });
    expect(t.contentVersion).toBe('1.0.0.0');
  });

  it('keeps line and column positions of values after a comment', () => {
    const t = parseTemplate(text);
    expect(sourcePosition(t, ['variables'])).toEqual({ line: 6, column: 16 });
  });

  it('still refuses text that is not JSON with InvalidTemplate', () => {
    expect(() => parseJsonSource('{"a": 1,, }')).toThrow(/Unable to parse the template content/);
  });
});
