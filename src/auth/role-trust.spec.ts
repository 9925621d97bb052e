import { applyTrust, trustPolicy } from './role-trust';
import { Role } from './roles';

const HOME = '11111111-1111-1111-1111-111111111111';
const OTHER = '22222222-2222-2222-2222-222222222222';
const APP = 'aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa';

describe('role trust', () => {
  it('honours Operator and Marketplace only from the home tenant by default; Publisher from any', () => {
    const p = trustPolicy({}, HOME);
    expect(applyTrust(p, HOME, APP, [Role.Operator, Role.Marketplace, Role.Publisher]).refused).toEqual([]);
    const foreign = applyTrust(p, OTHER, APP, [Role.Operator, Role.Marketplace, Role.Publisher]);
    expect(foreign.honoured).toEqual([Role.Publisher]);
    expect(foreign.refused).toEqual([Role.Operator, Role.Marketplace]);
  });

  it('narrows to listed client ids and widens to listed tenants', () => {
    const p = trustPolicy({ marketplaceTenants: [OTHER], marketplaceClientIds: [APP], operatorTenants: 'any' }, HOME);
    expect(applyTrust(p, OTHER, APP, [Role.Marketplace]).honoured).toEqual([Role.Marketplace]);
    expect(applyTrust(p, OTHER, 'bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb', [Role.Marketplace]).refused).toEqual([Role.Marketplace]);
    expect(applyTrust(p, HOME, APP, [Role.Marketplace]).refused).toEqual([Role.Marketplace]);
    expect(applyTrust(p, OTHER, APP, [Role.Operator]).honoured).toEqual([Role.Operator]);
  });
});
