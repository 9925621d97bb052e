import { uuidv7 } from './audit.service';

describe('uuidv7 (RFC 9562)', () => {
  it('is a version 7, variant 10 UUID whose first 48 bits are the milliseconds of its creation', () => {
    const before = Date.now();
    const id = uuidv7();
    const after = Date.now();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const ms = parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after + 1); // a sequence overflow in the same ms borrows the next one
  });

  it('sorts in creation order, within one millisecond too, and never repeats', () => {
    const ids = Array.from({ length: 20_000 }, () => uuidv7());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    // The random tail differs between ids of the same millisecond and sequence slot of another run.
    expect(new Set(ids.map((i) => i.slice(19))).size).toBe(ids.length);
  });
});
