import { checkParameterValue, constraintsOf } from './parameter-constraints';
import { generatePassword, passwordClassCount } from './parameter-filler';

const check = (meta: string | null, def: Record<string, unknown>) => checkParameterValue('p', meta, def, constraintsOf(def));

describe('checkParameterValue (issue 13)', () => {
  it('checks literal defaults against minLength, maxLength, minValue, maxValue and allowedValues', () => {
    expect(check(null, { type: 'string', defaultValue: 'abc', minLength: 3, maxLength: 5 }).problems).toEqual([]);
    expect(check(null, { type: 'string', defaultValue: 'ab', minLength: 3 }).problems[0]).toMatchObject({ code: 'ParameterDefaultInvalid', target: 'main-template.json:parameters.p.defaultValue' });
    expect(check(null, { type: 'array', defaultValue: [1, 2, 3], maxLength: 2 }).problems).toHaveLength(1);
    expect(check(null, { type: 'int', defaultValue: 0, minValue: 1 }).problems).toHaveLength(1);
    expect(check(null, { type: 'int', defaultValue: 9, maxValue: 8 }).problems).toHaveLength(1);
    expect(check(null, { type: 'string', defaultValue: 'b1', allowedValues: ['F1', 'B1'] }).problems).toEqual([]); // ARM compares strings case-insensitively
    expect(check(null, { type: 'string', defaultValue: 'P9', allowedValues: ['F1', 'B1'] }).problems).toHaveLength(1);
  });

  it('leaves expression defaults to the publish preflight', () => {
    expect(check(null, { type: 'string', defaultValue: "[concat('a', 'b')]", minLength: 10 })).toEqual({ problems: [], source: 'default-expression' });
    expect(check(null, { type: 'string', defaultValue: '[[not an expression', minLength: 50 }).problems).toHaveLength(1);
  });

  it('generated values: a password honours minLength (10-72), allowedValues and a short maxLength are impossible', () => {
    expect(check('password', { type: 'securestring', minLength: 12 })).toEqual({ problems: [], source: 'generated', passwordLength: 12 });
    expect(check('password', { type: 'securestring' }).passwordLength).toBe(10);
    expect(check('password', { type: 'securestring', maxLength: 8 }).problems[0].target).toBe('main-template.json:parameters.p.maxLength');
    expect(check('password', { type: 'securestring', minLength: 100 }).problems[0].target).toBe('main-template.json:parameters.p.minLength');
    expect(check('password', { type: 'securestring', allowedValues: ['x'] }).problems[0].target).toBe('main-template.json:parameters.p.allowedValues');
    expect(check('username', { type: 'string', maxLength: 8 }).problems).toHaveLength(1);
    expect(check('sessionid', { type: 'string', maxLength: 36 }).problems).toEqual([]);
  });

  it('a longer generated password still follows the test drive password rules', () => {
    for (let i = 0; i < 50; i++) {
      const p = generatePassword(undefined, 24);
      expect(p).toHaveLength(24);
      expect(passwordClassCount(p)).toBe(4);
    }
  });
});
