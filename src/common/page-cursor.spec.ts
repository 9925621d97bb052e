import { beforeQuerySchema, cursorCondition, nextBeforeOf, parsePageCursor } from './page-cursor';

describe('page cursors', () => {
  const at = Date.parse('2026-12-01T10:00:00.123Z');

  it('reads a bare date-time and a nextBefore (date-time ~ id)', () => {
    expect(parsePageCursor('2026-12-01T10:00:00.123Z')).toEqual({ at });
    expect(parsePageCursor('2026-12-01T10:00:00.123Z~0f8fad5b-d9cb-469f-a165-70867728950e')).toEqual({ at, id: '0f8fad5b-d9cb-469f-a165-70867728950e' });
  });

  it.each(['yesterday', '2026-13-01T00:00:00Z', '~abc', '2026-12-01T10:00:00Z~', '2026-12-01T10:00:00Z~a b', `2026-12-01T10:00:00Z~${'a'.repeat(65)}`])('refuses %p', (v) => {
    expect(parsePageCursor(v)).toBeNull();
    expect(beforeQuerySchema.safeParse(v).success).toBe(false);
  });

  it('makes nextBefore from the last row of a full page only', () => {
    const rows = [{ t: at + 5, id: 'b' }, { t: at, id: 'a' }];
    expect(nextBeforeOf(rows, 2, (r) => r.t, (r) => r.id)).toBe('2026-12-01T10:00:00.123Z~a');
    expect(nextBeforeOf(rows, 3, (r) => r.t, (r) => r.id)).toBeNull();
    expect(parsePageCursor(nextBeforeOf(rows, 2, (r) => r.t, (r) => r.id)!)).toEqual({ at, id: 'a' });
  });

  it('selects older rows, and rows of the same millisecond with a smaller id when the cursor has one', () => {
    expect(cursorCondition(undefined, 'x.t', 'x.id')).toBeNull();
    expect(cursorCondition({ at }, 'x.t', 'x.id')).toEqual({ sql: 'x.t < :cursorAt', params: { cursorAt: at } });
    expect(cursorCondition({ at, id: 'a' }, 'x.t', 'x.id')).toEqual({ sql: '(x.t < :cursorAt OR (x.t = :cursorAt AND x.id < :cursorId))', params: { cursorAt: at, cursorId: 'a' } });
  });
});
