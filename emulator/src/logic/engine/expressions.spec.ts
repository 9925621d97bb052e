import { evaluateValue, toWdlString, type ExpressionHost } from './functions';
import { parseString } from './expression';
import { WorkflowError } from './errors';
import { evaluateCondition } from './conditions';

function host(over: Partial<ExpressionHost> = {}): ExpressionHost {
  const vars: Record<string, unknown> = { counter: 3, list: [1, 2, 3], name: 'Contoso' };
  return {
    workflow: () => ({ id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Logic/workflows/wf', name: 'wf', type: 'Microsoft.Logic/workflows', run: { name: 'run1' } }),
    trigger: () => ({ name: 'manual', outputs: { headers: { 'Content-Type': 'application/json', 'x-api-key': 'k1' }, body: { customerId: 7, items: ['a', 'b'], nested: { deep: 'x' } }, relativePathParameters: { width: '3', height: '4' } } }),
    action: (n) => {
      if (n === 'Compose') return { name: n, outputs: { hello: 'world' }, status: 'Succeeded' };
      if (n === 'HTTP') return { name: n, outputs: { statusCode: 200, body: { id: 1 } }, status: 'Succeeded' };
      throw new WorkflowError('InvalidTemplate', `unknown action ${n}`);
    },
    variable: (n) => {
      if (!(n in vars)) throw new WorkflowError('InvalidTemplate', `unknown variable ${n}`);
      return vars[n];
    },
    parameter: (n) => ({ url: 'http://localhost:1234', n: 5 } as Record<string, unknown>)[n],
    item: () => 'it',
    items: () => 'loopItem',
    iterationIndexes: () => 2,
    result: () => [],
    appsetting: () => 'setting',
    listCallbackUrl: () => 'https://cb',
    ...over,
  };
}

const ev = (v: unknown): unknown => evaluateValue(v, host());

describe('WDL expressions', () => {
  it('classifies strings: literal, @@ escape, expression, interpolation', () => {
    expect(parseString('plain').kind).toBe('literal');
    expect(ev('@@not an expression')).toBe('@not an expression');
    expect(ev("@concat('a', 'b')")).toBe('ab');
    expect(ev('n=@{variables(\'counter\')}!')).toBe('n=3!');
    expect(ev('@{variables(\'list\')}')).toBe('[1,2,3]');
    expect(ev('x @@{literal}')).toBe('x @{literal}');
    expect(ev("@{'it''s'}")).toBe("it's");
  });

  it('keeps the type of a whole-string expression', () => {
    expect(ev("@variables('list')")).toEqual([1, 2, 3]);
    expect(ev('@triggerBody()')).toEqual({ customerId: 7, items: ['a', 'b'], nested: { deep: 'x' } });
    expect(ev({ a: "@variables('counter')", b: ['@true', '@null'] })).toEqual({ a: 3, b: [true, null] });
  });

  it('property access: dot, brackets, index, null-safe, case-insensitive', () => {
    expect(ev("@triggerBody()['customerId']")).toBe(7);
    expect(ev('@triggerBody().nested.deep')).toBe('x');
    expect(ev("@triggerBody()?['missing']?['x']")).toBeNull();
    expect(ev("@triggerBody()['items'][1]")).toBe('b');
    expect(ev("@triggerOutputs()?['headers']?['X-API-KEY']")).toBe('k1');
    expect(() => ev("@triggerBody()['missing']")).toThrow(/doesn't exist/);
    expect(() => ev("@triggerBody()['missing']['x']")).toThrow(WorkflowError);
  });

  it('string functions', () => {
    expect(ev("@substring('hello', 1, 3)")).toBe('ell');
    expect(() => ev("@substring('hello', 4, 3)")).toThrow(WorkflowError);
    expect(ev("@replace('a-b-c', '-', '+')")).toBe('a+b+c');
    expect(ev("@toLower('ABC')")).toBe('abc');
    expect(ev("@toUpper('abc')")).toBe('ABC');
    expect(ev("@trim('  x ')")).toBe('x');
    expect(ev("@indexOf('Hello', 'LL')")).toBe(2);
    expect(ev("@split('a,b', ',')")).toEqual(['a', 'b']);
    expect(ev("@startsWith('Hello', 'he')")).toBe(true);
    expect(ev("@endsWith('Hello', 'LO')")).toBe(true);
    expect(ev("@length('abc')")).toBe(3);
    expect(ev("@base64('hi')")).toBe('aGk=');
    expect(ev("@base64ToString('aGk=')")).toBe('hi');
    expect(ev('@string(true)')).toBe('True');
    expect(ev("@string(createArray('a'))")).toBe('["a"]');
    expect(ev("@int('42')")).toBe(42);
    expect(ev("@float('1.5')")).toBe(1.5);
    expect(ev("@bool('true')")).toBe(true);
    expect(ev("@json('{\"a\":1}')")).toEqual({ a: 1 });
    expect(ev("@guid()")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
    expect(ev("@guid('N')")).toMatch(/^[0-9a-f]{32}$/);
    expect(ev("@encodeUriComponent('a b')")).toBe('a%20b');
    expect(ev("@concat('n', 1, true)")).toBe('n1True');
  });

  it('logical and comparison functions (if/and/or lazy, coalesce)', () => {
    expect(ev("@equals(1, 1)")).toBe(true);
    expect(ev("@equals('a', 'A')")).toBe(false);
    expect(ev('@not(false)')).toBe(true);
    expect(ev('@and(true, false)')).toBe(false);
    expect(ev("@or(false, true)")).toBe(true);
    expect(ev("@if(true, 'y', variables('nope'))")).toBe('y');
    expect(ev("@coalesce(null, triggerBody()?['x'], 'z')")).toBe('z');
    expect(ev('@greater(2, 1)')).toBe(true);
    expect(ev('@less(2, 1)')).toBe(false);
    expect(ev("@greaterOrEquals('b', 'a')")).toBe(true);
    expect(ev('@lessOrEquals(1, 1)')).toBe(true);
    expect(ev("@empty('')")).toBe(true);
    expect(ev('@empty(createArray())')).toBe(true);
    expect(ev("@equals(coalesce(null, -1), -1)")).toBe(true);
  });

  it('math functions', () => {
    expect(ev('@add(1, 2)')).toBe(3);
    expect(ev('@sub(1, 2)')).toBe(-1);
    expect(ev('@mul(3, 4)')).toBe(12);
    expect(ev('@div(7, 2)')).toBe(3);
    expect(ev('@mod(7, 3)')).toBe(1);
    expect(ev('@max(1, 5, 3)')).toBe(5);
    expect(ev("@mul( int(triggerOutputs()['relativePathParameters']['height'])  , int(triggerOutputs()['relativePathParameters']['width'])  )")).toBe(12);
  });

  it('collection functions', () => {
    expect(ev("@first(variables('list'))")).toBe(1);
    expect(ev("@last(variables('list'))")).toBe(3);
    expect(ev("@union(createArray(1,2), createArray(2,3))")).toEqual([1, 2, 3]);
    expect(ev("@intersection(createArray(1,2), createArray(2,3))")).toEqual([2]);
    expect(ev("@contains(variables('list'), 2)")).toBe(true);
    expect(ev("@contains('abc', 'b')")).toBe(true);
    expect(ev("@contains(triggerBody(), 'customerId')")).toBe(true);
    expect(ev("@join(variables('list'), '-')")).toBe('1-2-3');
    expect(ev("@skip(variables('list'), 1)")).toEqual([2, 3]);
    expect(ev("@take(variables('list'), 2)")).toEqual([1, 2]);
    expect(ev('@range(5, 3)')).toEqual([5, 6, 7]);
    expect(ev("@length(variables('list'))")).toBe(3);
  });

  it('date functions', () => {
    expect(ev("@addHours('2024-01-01T00:00:00Z', 2)")).toBe('2024-01-01T02:00:00.0000000Z');
    expect(ev("@addMinutes('2024-01-01T00:00:00Z', 90)")).toBe('2024-01-01T01:30:00.0000000Z');
    expect(ev("@addDays('2024-01-31T00:00:00Z', 1, 'yyyy-MM-dd')")).toBe('2024-02-01');
    expect(ev("@addSeconds('2024-01-01T00:00:00Z', -1)")).toBe('2023-12-31T23:59:59.0000000Z');
    expect(ev("@addToTime('2024-01-31T00:00:00Z', 1, 'month')")).toBe('2024-03-02T00:00:00.0000000Z');
    expect(ev("@formatDateTime('2024-05-06T07:08:09Z', 'yyyy-MM-dd HH:mm')")).toBe('2024-05-06 07:08');
    expect(ev("@ticks('0001-01-01T00:00:00Z')")).toBe(0);
    const now = ev('@utcNow()') as string;
    expect(Math.abs(Date.parse(now) - Date.now())).toBeLessThan(5000);
  });

  it('workflow functions', () => {
    expect(ev('@workflow().name')).toBe('wf');
    expect(ev("@body('HTTP')")).toEqual({ id: 1 });
    expect(ev("@outputs('HTTP')['statusCode']")).toBe(200);
    expect(ev("@actionOutputs('HTTP')['statusCode']")).toBe(200);
    expect(ev("@outputs('Compose')")).toEqual({ hello: 'world' });
    expect(ev("@parameters('url')")).toBe('http://localhost:1234');
    expect(ev('@item()')).toBe('it');
    expect(ev("@items('loop')")).toBe('loopItem');
    expect(ev("@triggerbody()['customerId']")).toBe(7);
    expect(ev('@{workflow().run.name}')).toBe('run1');
  });

  it('unsupported functions fail with UnsupportedByEmulator naming the function', () => {
    try {
      ev("@xpath(xml('<a/>'), '/a')");
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(WorkflowError);
      expect((e as WorkflowError).code).toBe('UnsupportedByEmulator');
    }
    expect(() => ev('@noSuchFunction()')).toThrow(/noSuchFunction/);
  });

  it('malformed expressions are InvalidTemplate', () => {
    expect(() => ev("@concat('a'")).toThrow(WorkflowError);
    expect(() => ev('@{unterminated')).toThrow(/not closed/);
  });

  it('condition object form', () => {
    const h = host();
    expect(evaluateCondition({ and: [{ equals: ["@triggerBody()?['customerId']", 7] }, { or: [{ less: [1, 2] }, { greater: [1, 2] }] }] }, h)).toBe(true);
    expect(evaluateCondition({ not: { equals: [1, 2] } }, h)).toBe(true);
    expect(evaluateCondition("@not(equals(triggerBody()['items'], ''))", h)).toBe(true);
  });

  it('toWdlString', () => {
    expect(toWdlString(null)).toBe('');
    expect(toWdlString({ a: 1 })).toBe('{"a":1}');
  });
});
