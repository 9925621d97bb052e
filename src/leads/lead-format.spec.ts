import { dataverseLead, httpsLeadPayload, LeadRecord, leadSource, shareableContact, tableLeadEntity } from './lead-format';

const contact = { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', phone: '+44 20 7946 0000', country: 'GB', company: 'Analytical Engines', title: 'CTO' };
const lead = (over: Partial<LeadRecord> = {}): LeadRecord => ({
  id: '6f1d3c2a-8b4e-4d5f-9a6b-1c2d3e4f5a6b',
  offerId: 'contoso-crm',
  publisherId: 'contoso',
  offerTitle: 'Contoso CRM',
  source: 'AzureMarketplace',
  action: 'StartTestDrive',
  contact,
  createdAt: Date.UTC(2026, 11, 1, 10, 0, 0),
  test: false,
  ...over,
});

describe('lead format', () => {
  it('LeadSource is <Source>-<Action>|<publisherId>.<offerId>', () => {
    expect(leadSource('AzureMarketplace', 'StartTestDrive', 'contoso', 'contoso-crm')).toBe('AzureMarketplace-StartTestDrive|contoso.contoso-crm');
    expect(httpsLeadPayload(lead({ source: 'AppSource' })).LeadSource).toBe('AppSource-StartTestDrive|contoso.contoso-crm');
  });

  it('HTTPS payload has the Partner Center shape with a stable LeadId', () => {
    expect(httpsLeadPayload(lead())).toEqual({
      LeadId: '6f1d3c2a-8b4e-4d5f-9a6b-1c2d3e4f5a6b',
      UserDetails: { FirstName: 'Ada', LastName: 'Lovelace', Email: 'ada@example.com', Phone: '+44 20 7946 0000', Country: 'GB', Company: 'Analytical Engines', Title: 'CTO' },
      LeadSource: 'AzureMarketplace-StartTestDrive|contoso.contoso-crm',
      ActionCode: 'StartTestDrive',
      OfferTitle: 'Contoso CRM',
      Description: 'Test drive started for offer contoso-crm.',
      CreatedTimeUtc: '2026-12-01T10:00:00.000Z',
    });
  });

  it('no personal data without consent or for .edu addresses', () => {
    expect(shareableContact(contact, false)).toBeNull();
    expect(shareableContact({ ...contact, email: 'ada@cs.ox.edu' }, true)).toBeNull();
    expect(shareableContact({ ...contact, email: 'ADA@MIT.EDU' }, true)).toBeNull();
    expect(shareableContact(contact, true)).toEqual(contact);
    const p = httpsLeadPayload(lead({ contact: null }));
    expect(Object.values(p.UserDetails as object).every((v) => v === '')).toBe(true);
    expect(JSON.stringify(p)).not.toMatch(/Ada|Lovelace|example\.com/);
  });

  it('test leads carry the MSFT_TEST_ prefix', () => {
    const p = httpsLeadPayload(lead({ test: true }));
    expect(p.LeadSource).toBe('MSFT_TEST_AzureMarketplace-StartTestDrive|contoso.contoso-crm');
    expect((p.UserDetails as Record<string, string>).Email).toBe('MSFT_TEST_ada@example.com');
  });

  it('table entity: PartitionKey offer, RowKey lead id; Dataverse lead carries LeadSource', () => {
    expect(tableLeadEntity(lead())).toMatchObject({ partitionKey: 'contoso-crm', rowKey: '6f1d3c2a-8b4e-4d5f-9a6b-1c2d3e4f5a6b', Email: 'ada@example.com' });
    expect(dataverseLead(lead())).toMatchObject({ lastname: 'Lovelace', emailaddress1: 'ada@example.com', description: 'AzureMarketplace-StartTestDrive|contoso.contoso-crm' });
  });
});
