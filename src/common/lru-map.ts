/**
 * A Map bounded to `max` entries that forgets the least recently used one first: get() and set() make an
 * entry the most recent (JavaScript's Map iterates in insertion order, so the first key is the oldest).
 * For in-process caches whose keys come and go with data (secret versions after rotations, removed
 * subscriptions): without a bound they only grow, and a secret nobody uses any more would stay in memory
 * for the life of the process.
 */
export class LruMap<K, V> {
  private readonly entries = new Map<K, V>();

  /** @param max most entries kept (at least 1). @throws RangeError when `max` is not a whole number >= 1. */
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`LruMap max must be a whole number >= 1 (got ${max})`);
  }

  /** The value of `key` (now the most recent), or undefined. */
  get(key: K): V | undefined {
    const v = this.entries.get(key);
    if (v === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, v);
    return v;
  }

  /** Stores `value` as the most recent entry, forgetting the least recent one beyond `max`. */
  set(key: K, value: V): this {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as K);
    return this;
  }

  /** Entries held now. */
  get size(): number {
    return this.entries.size;
  }
}
