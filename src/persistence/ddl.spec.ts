import { columnOptions, columns } from './ddl';

describe('migration DDL helpers', () => {
  it('reads name, type, length, null, primary and default', () => {
    expect(columns('id varchar(36) primary, details text null,\n attempts integer default 0, at bigint')).toEqual([
      { name: 'id', type: 'varchar', length: '36', isNullable: false, isPrimary: true },
      { name: 'details', type: 'text', isNullable: true },
      { name: 'attempts', type: 'integer', isNullable: false, default: 0 },
      { name: 'at', type: 'bigint', isNullable: false },
    ]);
  });

  it('refuses a column it cannot read, naming it', () => {
    expect(() => columnOptions('id varchar')).toThrow(/"id varchar"/);
    expect(() => columnOptions('id uuid')).toThrow(/not "name type/);
  });
});
