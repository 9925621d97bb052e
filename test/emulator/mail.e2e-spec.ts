import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { createTransport } from 'nodemailer';
import type { EmulatorHandle } from '../../emulator/src';
import { MAIL_MAX_MESSAGE_BYTES } from '../../emulator/src';
import { control, start } from './helpers';

/** The emulator's SMTP sink, fed by the real nodemailer and read through the control API and the handle. */
describe('SMTP sink', () => {
  let h: EmulatorHandle;
  let dataDir: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    ({ h, dataDir, cleanup } = await start({ smtpPort: 0 }));
  });
  afterAll(async () => {
    await cleanup?.();
  });
  beforeEach(() => {
    h.mail.clear();
  });

  const transport = (auth?: { user: string; pass: string }) => createTransport({ host: '127.0.0.1', port: h.smtpPort, secure: false, ...(auth ? { auth } : {}) });

  it('listens on 127.0.0.1 and keeps what nodemailer sends, newest first, filterable by recipient', async () => {
    expect(h.smtpUrl).toBe(`smtp://127.0.0.1:${h.smtpPort}`);
    const info = await transport().sendMail({
      from: '"Test Drive" <noreply@testdrive.example>',
      to: 'Alice <alice@contoso.example>',
      cc: 'bob@contoso.example',
      bcc: 'audit@contoso.example',
      replyTo: 'support@testdrive.example',
      subject: 'Your test drive is ready ✓',
      text: 'Hello Alice,\nyour test drive is ready.',
      html: '<p>Hello Alice,<br>your test drive is <b>ready</b>.</p>',
      headers: { 'X-TestDrive-Session': 'sess-123' },
      list: { unsubscribe: 'https://testdrive.example/unsubscribe?u=1' },
      attachments: [{ filename: 'details.txt', content: 'session sess-123' }],
    });
    expect(info.accepted).toEqual(['alice@contoso.example', 'bob@contoso.example', 'audit@contoso.example']);
    expect(info.response).toMatch(/^250 /);
    await transport().sendMail({ from: 'noreply@testdrive.example', to: 'carol@contoso.example', subject: 'Second', text: 'two' });

    const list = await control(h, 'GET', '/_emulator/mail');
    expect(list.status).toBe(200);
    expect(list.body.smtpUrl).toBe(h.smtpUrl);
    expect(list.body.value.map((m: { subject: string }) => m.subject)).toEqual(['Second', 'Your test drive is ready ✓']);
    const m = list.body.value[1];
    expect(m).toMatchObject({
      from: 'noreply@testdrive.example',
      fromName: 'Test Drive',
      to: ['alice@contoso.example', 'bob@contoso.example', 'audit@contoso.example'],
      envelopeFrom: 'noreply@testdrive.example',
      headerTo: ['alice@contoso.example'],
      cc: ['bob@contoso.example'],
      subject: 'Your test drive is ready ✓',
      text: 'Hello Alice,\nyour test drive is ready.',
      html: '<p>Hello Alice,<br>your test drive is <b>ready</b>.</p>',
      attachments: [{ filename: 'details.txt', contentType: 'text/plain', size: 16 }],
    });
    expect(typeof m.id).toBe('string');
    expect(Date.parse(m.receivedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(m.headers['x-testdrive-session']).toBe('sess-123');
    expect(m.headers['reply-to']).toContain('support@testdrive.example');
    expect(m.headers['list-unsubscribe']).toContain('https://testdrive.example/unsubscribe?u=1');
    expect(m.headers['message-id']).toBe(info.messageId);
    expect(m.headers.bcc).toBeUndefined();

    const toBob = await control(h, 'GET', '/_emulator/mail?to=BOB@contoso.example');
    expect(toBob.body.value.map((x: { id: string }) => x.id)).toEqual([m.id]);
    expect((await control(h, 'GET', '/_emulator/mail?to=audit@contoso.example')).body.value).toHaveLength(1); // Bcc: envelope only
    expect((await control(h, 'GET', '/_emulator/mail?to=nobody@contoso.example')).body.value).toEqual([]);

    expect((await control(h, 'GET', `/_emulator/mail/${m.id}`)).body).toEqual(m);
    expect((await control(h, 'GET', '/_emulator/mail/nope')).status).toBe(404);
    expect(h.mail.get(m.id)?.subject).toBe('Your test drive is ready ✓');
    expect(h.mail.list({ to: 'carol@contoso.example' })).toHaveLength(1);

    expect((await control(h, 'DELETE', '/_emulator/mail')).status).toBe(204);
    expect((await control(h, 'GET', '/_emulator/mail')).body.value).toEqual([]);
  });

  it('accepts any SMTP AUTH credentials (optional) and records the user name', async () => {
    await transport({ user: 'apikey', pass: 'anything' }).sendMail({ from: 'a@testdrive.example', to: 'b@contoso.example', subject: 'auth', text: 'x' });
    expect(h.mail.list()[0]).toMatchObject({ subject: 'auth', authUser: 'apikey' });
  });

  it('refuses a message above 1 MB with 552 and keeps nothing', async () => {
    const big = 'x'.repeat(MAIL_MAX_MESSAGE_BYTES + 1000);
    await expect(transport().sendMail({ from: 'a@testdrive.example', to: 'b@contoso.example', subject: 'big', text: big })).rejects.toMatchObject({ responseCode: 552 });
    expect(h.mail.list()).toEqual([]);
  });

  it('waitFor resolves with a message arriving later, and rejects after its timeout', async () => {
    const waiting = h.mail.waitFor((x) => x.to.includes('dave@contoso.example'), 5000);
    await createTransport(h.smtpUrl).sendMail({ from: 'a@testdrive.example', to: 'dave@contoso.example', subject: 'later', text: 'x' }); // the URL form works as is
    expect((await waiting).subject).toBe('later');
    await expect(h.mail.waitFor((x) => x.subject === 'never', 50)).rejects.toThrow(/no matching mail/);
  });

  it('closes with the emulator; without smtpPort there is no sink; a taken port fails the start', async () => {
    const port = h.smtpPort!;
    await h.close(); // afterAll's cleanup closes again (a no-op) and removes the data dir
    const refused = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve('connected')));
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');

    // same data dir (CA reused): no SMTP sink unless asked for
    const plain = await start({ dataDir });
    try {
      expect(plain.h.smtpUrl).toBeUndefined();
      expect((await control(plain.h, 'GET', '/_emulator/mail')).body).toEqual({ smtpUrl: null, value: [] });
    } finally {
      await plain.cleanup();
    }

    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      await expect(start({ dataDir, smtpPort: (blocker.address() as AddressInfo).port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
