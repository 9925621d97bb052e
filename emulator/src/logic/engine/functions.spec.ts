import { evaluateValue, type ExpressionHost } from './functions';
import { WorkflowError } from './errors';
import { ianaZone, wallToUtc } from './timezones';

const multipart = (parts: string[]): string => Buffer.from(parts.map((p) => `--XYZ\r\n${p}\r\n`).join('') + '--XYZ--\r\n', 'utf8').toString('base64');

function host(): ExpressionHost {
  const formBody = { '$content-type': 'multipart/form-data; boundary=XYZ', $content: multipart(['Content-Disposition: form-data; name="a"\r\n\r\none', 'Content-Disposition: form-data; name="a"\r\n\r\ntwo', 'Content-Disposition: form-data; name="doc"\r\nContent-Type: application/json\r\n\r\n{"k":1}']) };
  return {
    workflow: () => ({ name: 'wf' }),
    trigger: () => ({ name: 'manual', outputs: { headers: {}, body: formBody } }),
    action: (n) => {
      if (n === 'Form') return { name: n, outputs: { body: 'x=1&x=2&y=z' } };
      if (n === 'Parts') return { name: n, outputs: { body: { '$content-type': 'multipart/mixed', $multipart: [{ headers: { 'Content-Type': 'text/plain' }, body: 'first' }, { headers: {}, body: { n: 2 } }] } } };
      throw new WorkflowError('InvalidTemplate', `unknown action ${n}`);
    },
    variable: () => null,
    parameter: () => null,
    item: () => null,
    items: () => null,
    iterationIndexes: () => 0,
    result: () => [],
    appsetting: () => null,
    listCallbackUrl: () => 'https://cb',
  };
}

const ev = (v: string): unknown => evaluateValue(v, host());

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof WorkflowError ? e.code : `not a WorkflowError: ${String(e)}`;
  }
  return undefined;
}

describe('WDL functions (reference guide to workflow expression functions)', () => {
  it('binary values are content envelopes; dataUri and its decoders; uriComponentToBinary', () => {
    const hello = { '$content-type': 'application/octet-stream', $content: 'aGVsbG8=' };
    expect(ev("@binary('hello')")).toEqual(hello);
    expect(ev("@base64ToBinary('aGVsbG8=')")).toEqual(hello);
    expect(ev("@base64(binary('hello'))")).toBe('aGVsbG8=');
    expect(ev("@dataUri('hello')")).toBe('data:text/plain;charset=utf-8;base64,aGVsbG8=');
    expect(ev("@dataUriToString('data:text/plain;charset=utf-8;base64,aGVsbG8=')")).toBe('hello');
    expect(ev("@dataUriToBinary('data:text/plain;charset=utf-8;base64,aGVsbG8=')")).toEqual({ '$content-type': 'text/plain;charset=utf-8', $content: 'aGVsbG8=' });
    expect(ev("@decodeDataUri('data:text/plain;charset=utf-8;base64,aGVsbG8=')")).toEqual({ '$content-type': 'text/plain;charset=utf-8', $content: 'aGVsbG8=' });
    expect(ev("@dataUriToString('data:,a%20b')")).toBe('a b');
    expect(ev("@dataUri(dataUriToBinary('data:image/png;base64,AAEC'))")).toBe('data:image/png;base64,AAEC');
    expect(ev("@uriComponentToBinary('http%3A%2F%2Fcontoso.com')")).toEqual({ '$content-type': 'application/octet-stream', $content: Buffer.from('http://contoso.com').toString('base64') });
    expect(code(() => ev("@dataUriToString('hello')"))).toBe('InvalidTemplate');
  });

  it('decimal, float with a locale, isFloat with a locale, isInt', () => {
    expect(ev("@decimal('1.2345678912312131')")).toBeCloseTo(1.2345678912312131, 15);
    expect(code(() => ev("@decimal('abc')"))).toBe('InvalidTemplate');
    expect(ev("@float('10,000.333')")).toBe(10000.333);
    expect(ev("@float('10.000,333', 'de-DE')")).toBe(10000.333);
    expect(ev("@isFloat('10,000.00')")).toBe(true);
    expect(ev("@isFloat('10.000,00', 'de-DE')")).toBe(true);
    expect(ev("@isFloat('10.000,00')")).toBe(false);
    expect(ev("@isFloat('abc')")).toBe(false);
    expect(ev("@isInt('10')")).toBe(true);
    expect(ev("@isInt('10.5')")).toBe(false);
  });

  it('formatNumber: standard and custom .NET formats with a locale', () => {
    expect(ev("@formatNumber(1234567890, '0,0.00', 'en-US')")).toBe('1,234,567,890.00');
    expect(ev("@formatNumber(1234567890, '#,##0.00', 'is-IS')")).toBe('1.234.567.890,00');
    expect(ev("@formatNumber(17.35, 'C2')")).toBe('$17.35');
    expect(ev("@formatNumber(1234.5, 'N1')")).toBe('1,234.5');
    expect(ev("@formatNumber(1234.5, 'F3')")).toBe('1234.500');
    expect(ev("@formatNumber(0.125, 'P1')")).toBe('12.5%');
    expect(ev("@formatNumber(42, 'D5')")).toBe('00042');
    expect(ev("@formatNumber(255, 'X')")).toBe('FF');
    expect(ev("@formatNumber(0.5, '0%')")).toBe('50%');
    expect(code(() => ev("@formatNumber(1, 'yy')"))).toBe('UnsupportedByEmulator');
  });

  it('time zones: Windows names mapped to IANA; DST from Intl; unknown zone is InvalidTemplate naming it', () => {
    expect(ev("@convertTimeZone('2018-01-01T08:00:00.0000000Z', 'UTC', 'Pacific Standard Time')")).toBe('2018-01-01T00:00:00.0000000');
    expect(ev("@convertTimeZone('2018-01-01T08:00:00.0000000Z', 'UTC', 'Pacific Standard Time', 'D')")).toBe('Monday, January 1, 2018');
    expect(ev("@convertToUtc('01/01/2018 00:00:00', 'Pacific Standard Time')")).toBe('2018-01-01T08:00:00.0000000Z');
    expect(ev("@convertToUtc('01/01/2018 00:00:00', 'Pacific Standard Time', 'D')")).toBe('Monday, January 1, 2018');
    expect(ev("@convertFromUtc('2018-01-01T08:00:00.0000000Z', 'Pacific Standard Time')")).toBe('2018-01-01T00:00:00.0000000');
    expect(ev("@convertFromUtc('2018-07-01T12:00:00Z', 'W. Europe Standard Time')")).toBe('2018-07-01T14:00:00.0000000');
    expect(ev("@convertFromUtc('2018-01-01T12:00:00Z', 'W. Europe Standard Time', 'HH:mm')")).toBe('13:00');
    expect(ev("@convertTimeZone('2018-07-01T10:00:00', 'Eastern Standard Time', 'India Standard Time')")).toBe('2018-07-01T19:30:00.0000000');
    expect(ev("@convertToUtc('2018-07-01T10:00:00', 'utc')")).toBe('2018-07-01T10:00:00.0000000Z');
    try {
      ev("@convertTimeZone('2018-01-01T08:00:00Z', 'UTC', 'Mars Standard Time')");
      throw new Error('no error');
    } catch (e) {
      expect((e as WorkflowError).code).toBe('InvalidTemplate');
      expect((e as WorkflowError).message).toContain("'Mars Standard Time'");
    }
    expect(ianaZone('GMT Standard Time')).toBe('Europe/London');
    // a time skipped by DST (02:30 on 2018-03-11 in Los Angeles) moves forward; an ambiguous one takes standard time
    expect(new Date(wallToUtc('America/Los_Angeles', Date.UTC(2018, 2, 11, 2, 30))).toISOString()).toBe('2018-03-11T10:30:00.000Z');
    expect(new Date(wallToUtc('America/Los_Angeles', Date.UTC(2018, 10, 4, 1, 30))).toISOString()).toBe('2018-11-04T09:30:00.000Z');
  });

  it('dateDifference returns a TimeSpan; parseDateTime with locale and format', () => {
    expect(ev("@dateDifference('2015-02-08', '2018-07-30')")).toBe('1268.00:00:00');
    expect(ev("@dateDifference('2024-01-01T10:00:00Z', '2024-01-01T08:30:15Z')")).toBe('-01:29:45');
    expect(ev("@dateDifference('2024-01-01T00:00:00Z', '2024-01-01T00:00:00.5Z')")).toBe('00:00:00.5000000');
    expect(ev("@parseDateTime('20/10/2014', 'fr-FR')")).toBe('2014-10-20T00:00:00.0000000');
    expect(ev("@parseDateTime('10/20/2014 3:04 PM')")).toBe('2014-10-20T15:04:00.0000000');
    expect(ev("@parseDateTime('20 octobre 2014', 'fr-FR', 'dd MMMM yyyy')")).toBe('2014-10-20T00:00:00.0000000');
    expect(ev("@parseDateTime('2014-10-20T01:02:03Z')")).toBe('2014-10-20T01:02:03.0000000Z');
    expect(ev("@parseDateTime('5.3.2020 14:05', 'de-DE', 'd.M.yyyy HH:mm')")).toBe('2020-03-05T14:05:00.0000000');
    expect(code(() => ev("@parseDateTime('31/02/2014', 'fr-FR')"))).toBe('InvalidTemplate');
    expect(code(() => ev("@parseDateTime('x', 'not a locale!')"))).toBe('InvalidTemplate');
  });

  it('form data and multipart: trigger and action forms', () => {
    expect(ev("@triggerFormDataValue('a')")).toBe('one');
    expect(ev("@triggerFormDataMultiValues('a')")).toEqual(['one', 'two']);
    expect(ev('@triggerMultipartBody(2)')).toEqual({ k: 1 });
    expect(ev("@formDataValue('Form', 'y')")).toBe('z');
    expect(ev("@formDataMultiValues('Form', 'x')")).toEqual(['1', '2']);
    expect(ev("@multipartBody('Parts', 0)")).toBe('first');
    expect(ev("@multipartBody('Parts', 1)")).toEqual({ n: 2 });
    expect(code(() => ev("@multipartBody('Parts', 5)"))).toBe('InvalidTemplate');
    expect(code(() => ev("@multipartBody('Form', 0)"))).toBe('InvalidTemplate');
  });

  it('xml(): XML strings and JSON objects (Json.NET rules) as XML content; string() of it is the XML text; xpath stays unsupported', () => {
    expect(ev("@xml('<name>Sophia Owen</name>')")).toEqual({ '$content-type': 'application/xml;charset=utf-8', $content: Buffer.from('<name>Sophia Owen</name>').toString('base64') });
    expect(ev("@string(xml(json('{\"name\":\"Sophia Owen\"}')))")).toBe('<name>Sophia Owen</name>');
    expect(ev("@string(xml(json('{\"person\":{\"@id\":\"1\",\"name\":[\"a\",\"b\"],\"ok\":true,\"none\":null,\"t\":{\"#text\":\"x<y\"}}}')))")).toBe('<person id="1"><name>a</name><name>b</name><ok>true</ok><none /><t>x&lt;y</t></person>');
    expect(code(() => ev("@xml(json('{\"a\":1,\"b\":2}'))"))).toBe('InvalidTemplate');
    expect(code(() => ev("@xml('<a><b></a>')"))).toBe('InvalidTemplate');
    expect(code(() => ev("@xml('not xml')"))).toBe('InvalidTemplate');
    expect(code(() => ev("@xpath(xml('<a/>'), '/a')"))).toBe('UnsupportedByEmulator');
  });

  it('guid formats N, D, B, P, X; an unknown format is InvalidTemplate', () => {
    expect(ev("@guid('B')")).toMatch(/^\{[0-9a-f-]{36}\}$/);
    expect(ev("@guid('P')")).toMatch(/^\([0-9a-f-]{36}\)$/);
    expect(ev("@guid('X')")).toMatch(/^\{0x[0-9a-f]{8},0x[0-9a-f]{4},0x[0-9a-f]{4},\{(0x[0-9a-f]{2},){7}0x[0-9a-f]{2}\}\}$/);
    expect(code(() => ev("@guid('Q')"))).toBe('InvalidTemplate');
  });

  it('arity is checked for the new functions', () => {
    expect(code(() => ev("@convertTimeZone('2018-01-01T00:00:00Z', 'UTC')"))).toBe('InvalidTemplate');
    expect(code(() => ev("@dateDifference('2018-01-01')"))).toBe('InvalidTemplate');
  });
});
