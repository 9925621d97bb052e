import { z } from 'zod';
import { ApiError } from './api-error';
import { zodIssuesToDetails } from './validation';

const schema = z.strictObject({ customer: z.string(), note: z.string().optional() });

/** The 400 body a request with `input` gets. */
function refusal(input: unknown, prefix?: string) {
  const r = schema.safeParse(input);
  if (r.success) throw new Error('expected a refusal');
  return (ApiError.validation(zodIssuesToDetails(r.error.issues, prefix)).getResponse() as { error: { message: string; target?: string; details: Array<{ code: string; target?: string; message: string }> } }).error;
}

describe('validation reports', () => {
  it('a body that is not an object (a JSON array, a string, null) names the body as its target', () => {
    for (const input of [[{ customer: 'x' }], 'text', null, 7]) {
      const e = refusal(input);
      expect(e.target).toBe('body');
      expect(e.details).toEqual([expect.objectContaining({ code: 'InvalidField', target: 'body' })]);
      expect(e.message).toMatch(/^body: /);
    }
  });

  it('below a prefix the prefix is the target, not the body', () => {
    expect(refusal([1], 'testDrive').target).toBe('testDrive');
  });

  it('several unknown fields are summed up in words, not as a code shown as if it were a field', () => {
    const e = refusal({ a: 1, b: 2 });
    expect(e.message).toBe("The request has 2 problems: customer, unknown fields 'a', 'b'.");
    expect(e.message).not.toContain('UnknownField');
    expect(e.details).toEqual([
      expect.objectContaining({ code: 'InvalidField', target: 'customer' }),
      expect.objectContaining({ code: 'UnknownField', message: "Unknown fields 'a', 'b': not part of this request." }),
    ]);
  });

  it('one unknown field is named as the target', () => {
    const e = refusal({ customer: 'x', a: 1 });
    expect(e).toMatchObject({ target: 'a', message: "a: Unknown field 'a': not part of this request." });
  });

  it('an unknown field name that cannot be echoed is counted, not quoted', () => {
    const e = refusal({ [`x${'y'.repeat(100)}`]: 1, b: 2 });
    expect(e.message).toBe("The request has 2 problems: customer, unknown fields 'b', 1 other.");
  });
});
