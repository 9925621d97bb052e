import { LruMap } from './lru-map';

describe('LruMap', () => {
  it('keeps at most max entries and forgets the least recently used first', () => {
    const m = new LruMap<string, number>(2);
    m.set('a', 1).set('b', 2);
    expect(m.get('a')).toBe(1); // a is now the most recent
    m.set('c', 3); // b goes
    expect(m.get('b')).toBeUndefined();
    expect(m.get('a')).toBe(1);
    expect(m.get('c')).toBe(3);
    expect(m.size).toBe(2);
    m.set('a', 10); // an update does not grow it
    expect(m.size).toBe(2);
    expect(m.get('a')).toBe(10);
  });

  it('stays bounded however many keys pass through it', () => {
    const m = new LruMap<number, string>(100);
    for (let i = 0; i < 10_000; i++) m.set(i, `v${i}`);
    expect(m.size).toBe(100);
    expect(m.get(9_999)).toBe('v9999');
    expect(m.get(0)).toBeUndefined();
  });

  it('refuses a bound that is not a whole number of at least 1', () => {
    expect(() => new LruMap(0)).toThrow(RangeError);
    expect(() => new LruMap(1.5)).toThrow(/whole number/);
  });
});
