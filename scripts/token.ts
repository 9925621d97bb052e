/**
 * Prints an access token for the service's API: `npm run token -- <marketplace|publisher|operator>
 * [--emulator https://localhost:8443] [--new] [--tenant <id>|--new-tenant]`.
 *
 * Against the running emulator (embedded default or `npm run emulator`), trusting its CA from
 * DATA_DIR/emulator/ca.crt. Without --new, the embedded default's client for that role is reused
 * (same publisher as the start banner, owner of the sample offer); with --new (or when there is none)
 * a new client holding the role is created via POST /_emulator/clients and its token requested with
 * client credentials from the emulator's token endpoint. Only the token goes to stdout.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../src/config/app-config';
import { ROLE_BY_NAME } from '../src/auth/roles';
import { createEmulatorClient, requestAccessToken } from '../src/auth/emulator-tokens';
import { embeddedClientsFile, mintEmulatorToken, RoleName } from '../src/embedded/embedded-callers';

const USAGE = 'usage: npm run token -- <marketplace|publisher|operator> [--emulator https://localhost:8443] [--new] [--tenant <tenantId> | --new-tenant] [--audience api://test-drive-orchestrator]\n';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const role = args.find((a, i) => !a.startsWith('--') && !['--emulator', '--tenant', '--audience'].includes(args[i - 1])) as RoleName | undefined;
  if (!role || !(role in ROLE_BY_NAME)) {
    process.stderr.write(USAGE);
    process.exit(2);
  }
  const dataDir = path.resolve(PROJECT_ROOT, process.env.DATA_DIR ?? 'data');
  const emulatorUrl = (opt('--emulator') ?? `https://localhost:${process.env.EMULATOR_PORT ?? 8443}`).replace(/\/+$/, '');
  const audience = opt('--audience') ?? process.env.AUTH_AUDIENCE ?? 'api://test-drive-orchestrator';
  const caFile = path.join(dataDir, 'emulator', 'ca.crt');
  if (!fs.existsSync(caFile)) {
    process.stderr.write(`${caFile} not found: start the service (npm start) or the emulator (npm run emulator) first.\n`);
    process.exit(1);
  }
  const ca = fs.readFileSync(caFile, 'utf8');
  const fresh = args.includes('--new') || args.includes('--new-tenant') || opt('--tenant') !== undefined;
  if (!fresh) {
    try {
      const saved = JSON.parse(fs.readFileSync(embeddedClientsFile(dataDir), 'utf8')) as Partial<Record<RoleName, { clientId: string }>>;
      const clientId = saved[role]?.clientId;
      const token = clientId ? await mintEmulatorToken(emulatorUrl, ca, clientId, audience) : undefined;
      if (token) {
        process.stdout.write(`${token}\n`);
        return;
      }
    } catch {
      /* no embedded callers: create a client below */
    }
  }
  const client = await createEmulatorClient(emulatorUrl, ca, { roles: [ROLE_BY_NAME[role]], tenantId: opt('--tenant'), newTenant: args.includes('--new-tenant') });
  const token = await requestAccessToken(emulatorUrl, ca, client, audience);
  process.stderr.write(`new ${role} client ${client.clientId} in tenant ${client.tenantId}\n`);
  process.stdout.write(`${token}\n`);
}

main().catch((err) => {
  process.stderr.write(`token: ${(err as Error).message}\n`);
  process.exit(1);
});
