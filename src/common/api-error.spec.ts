import { ApiError } from './api-error';

describe('ApiError.notFound', () => {
  it('echoes an id of up to 128 characters as given', () => {
    const id = 'a'.repeat(128);
    expect(ApiError.notFound('Session', id).message).toBe(`Session '${id}' was not found.`);
  });

  it('cuts a longer id to its first 64 characters and says how long it was', () => {
    const e = ApiError.notFound('Session', 'x'.repeat(3000));
    expect(e.message).toBe(`Session '${'x'.repeat(64)}…' (3000 characters) was not found.`);
    expect(e.getStatus()).toBe(404);
    expect(e.code).toBe('SessionNotFound');
  });
});
