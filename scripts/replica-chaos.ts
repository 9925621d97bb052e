/**
 * Replica chaos: kills service replicas right after they hand out a hot instance and checks that
 * nothing is left behind (issue 8). `npm run build && node dist/scripts/replica-chaos.js [options]`.
 *
 * Starts the emulator (`node dist/scripts/emulator.js`: temp EMULATOR_DATA_DIR, free ports, Azurite,
 * short deployments) and two service replicas (`node dist/src/main.js`: one fresh PostgreSQL database,
 * AZURE_EMULATOR_URL, RECONCILE_INTERVAL_MS, their own PORT) started together on the empty database;
 * publishes an ARM offer with hot pools in two regions; then N times: starts a hot session on one
 * replica, `kill -9`s that replica right after it answers (or, with --kill-at inflight, while the
 * request is under way), restarts it, ends the session through the other replica, and checks:
 *
 * - no session stays `provisioning` longer than one reconcile interval + 1 s (PROVISIONING bound);
 * - no instance stays `assigned` without a live session (a claim whose session was lost);
 * - every hot pool is back at its target (GET /api/v1/capacity) within --refill-timeout seconds;
 * - an ended session reaches `ended` (end lag reported);
 * - leadership moves to the other replica when the leader is killed (handover, from the replicas' logs).
 *
 * Prints a summary and exits 1 on any violation (2 on a setup failure). Options:
 *   --iterations N        default 20
 *   --kill-at answer|inflight|mixed   when the victim dies: right after its answer (default), 0-40 ms
 *                         after the request was sent, or alternately
 *   --interval-ms N       RECONCILE_INTERVAL_MS of the replicas (default 1000)
 *   --deployment-seconds N  EMULATOR_DEPLOYMENT_SECONDS (default 1)
 *   --refill-timeout N    seconds a pool may take to return to target (default 60)
 *   --keep                keep the database and the temp dir (logs); they are also kept on a violation
 * Env: CHAOS_POSTGRES_URL (default TEST_POSTGRES_URL, else postgres://postgres@127.0.0.1:5432/test): an
 * admin connection used to create (and drop) the throwaway database.
 */
import { callApi } from '../src/embedded/sample-offer';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { createEmulatorClient, requestAccessToken } from '../src/auth/emulator-tokens';
import { httpsJson } from '../src/auth/https-json';
import { ALL_ROLES } from '../src/auth/roles';
import { PROJECT_ROOT } from '../src/config/app-config';
import { parseEnvLines, REPLICA_ENV_FILE } from '../src/embedded/shared-emulator';
import { zipDirectory } from '../src/common/zip-directory';

const DIST = path.resolve(__dirname, '..');
const OFFER = 'chaos';
const REGIONS = [
  { name: 'westeurope', hot: 2, cold: 0 },
  { name: 'eastus', hot: 1, cold: 0 },
];
const AUDIENCE = 'api://test-drive-orchestrator';
const customer = { email: 'chaos@example.com', firstName: 'Chaos', lastName: 'Monkey', country: 'GB' };

interface Options {
  iterations: number;
  killAt: 'answer' | 'inflight' | 'mixed';
  intervalMs: number;
  deploymentSeconds: number;
  refillTimeoutS: number;
  keep: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { iterations: 20, killAt: 'answer', intervalMs: 1000, deploymentSeconds: 1, refillTimeoutS: 60, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (name: string) => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${name} needs a non-negative number`);
      return v;
    };
    if (a === '--iterations') o.iterations = Math.floor(num(a));
    else if (a === '--interval-ms') o.intervalMs = Math.floor(num(a));
    else if (a === '--deployment-seconds') o.deploymentSeconds = num(a);
    else if (a === '--refill-timeout') o.refillTimeoutS = num(a);
    else if (a === '--keep') o.keep = true;
    else if (a === '--kill-at') {
      const v = argv[++i];
      if (v !== 'answer' && v !== 'inflight' && v !== 'mixed') throw new Error('--kill-at is answer, inflight or mixed');
      o.killAt = v;
    } else throw new Error(`unknown option ${a}`);
  }
  if (o.intervalMs < 100) throw new Error('--interval-ms must be >= 100');
  return o;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => process.stdout.write(`[chaos ${new Date().toISOString().slice(11, 23)}] ${msg}\n`);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** A child process with stdout+stderr appended to `logFile`. */
function spawnLogged(cmd: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): ChildProcess {
  const out = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { env, stdio: ['ignore', out, out], cwd: PROJECT_ROOT });
  fs.closeSync(out);
  return child;
}

/** A service replica (node dist/src/main.js) that can be killed and restarted. */
class Replica {
  child: ChildProcess | null = null;
  readonly logFile: string;
  starts = 0;
  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
    dir: string,
  ) {
    this.logFile = path.join(dir, `${name}.log`);
  }
  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  async start(): Promise<number> {
    const t0 = Date.now();
    this.starts++;
    const child = spawnLogged(process.execPath, [path.join(DIST, 'src', 'main.js')], this.env, this.logFile);
    this.child = child;
    let exited: string | undefined;
    child.once('exit', (code, signal) => (exited = `exited (${code ?? signal})`));
    await waitFor(`${this.name} to answer /health`, 90_000, async () => {
      if (exited) throw new Error(`${this.name} ${exited} while starting; see ${this.logFile}`);
      const r = await fetch(`${this.base}/health`, { signal: AbortSignal.timeout(2000) });
      return r.status === 200;
    }).catch((err: Error) => {
      if (exited) throw new Error(`${this.name} ${exited} while starting; see ${this.logFile}`);
      throw err;
    });
    return Date.now() - t0;
  }
  kill9(): number {
    const at = Date.now();
    this.child?.kill('SIGKILL');
    return at;
  }
  async exited(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => c.once('exit', () => resolve()));
  }
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGTERM');
    const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
    await this.exited();
    clearTimeout(t);
  }
  /** Epoch ms of this replica's "leader of the reconcile loop" log lines. */
  leadershipTimes(): number[] {
    let text = '';
    try {
      text = fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return [];
    }
    const out: number[] = [];
    for (const line of text.split('\n')) {
      if (!line.includes('leader of the reconcile loop') || line.includes('no longer leader')) continue;
      try {
        out.push(Number((JSON.parse(line) as { time: number }).time));
      } catch {
        /* not a JSON line */
      }
    }
    return out;
  }
  /** Whether, by its log, this replica is leader now (last leadership line is a gain). */
  leadsByLog(): boolean {
    let text = '';
    try {
      text = fs.readFileSync(this.logFile, 'utf8');
    } catch {
      return false;
    }
    const lines = text.split('\n').filter((l) => l.includes('leader of the reconcile loop'));
    const last = lines[lines.length - 1];
    return !!last && !last.includes('no longer leader');
  }
}

/** The service's API, as sample-offer's callApi, with a 30 s time-out unless `signal` is given. */
async function api(base: string, token: string, method: string, url: string, body?: unknown, contentType = 'application/json', signal?: AbortSignal): Promise<{ status: number; json: any }> {
  return callApi(base, token, method, url, body, contentType, signal ?? AbortSignal.timeout(30_000));
}

interface CapacityRow {
  offerId: string;
  region: string;
  hotTarget: number;
  hotReady: number;
  assigned: number;
  deploying: number;
  deleting: number;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  for (const f of [path.join(DIST, 'src', 'main.js'), path.join(DIST, 'scripts', 'emulator.js')]) {
    if (!fs.existsSync(f)) throw new Error(`${f} not found: run npm run build first`);
  }
  const adminUrl = process.env.CHAOS_POSTGRES_URL ?? process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'td-chaos-'));
  const dbName = `td_chaos_${randomBytes(5).toString('hex')}`;
  const dbUrl = (() => {
    const u = new URL(adminUrl);
    u.pathname = `/${dbName}`;
    return u.toString();
  })();
  const children: Array<{ stop(): Promise<void> }> = [];
  let db: Client | undefined;
  const violations: string[] = [];
  let setupOk = false;
  const cleanup = async (keep: boolean) => {
    for (const c of children.reverse()) await c.stop().catch(() => undefined);
    await db?.end().catch(() => undefined);
    if (!keep) {
      const admin = new Client({ connectionString: adminUrl });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
      await admin.end();
      fs.rmSync(dir, { recursive: true, force: true });
    } else {
      log(`kept: database ${dbUrl}, logs and data in ${dir}`);
    }
  };

  try {
    // 1. Database, emulator, two replicas started together on the empty database.
    const admin = new Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const [emulatorPort, portA, portB] = [await freePort(), await freePort(), await freePort()];
    const emulatorDir = path.join(dir, 'emulator');
    const emuLog = path.join(dir, 'emulator.log');
    const emulator = spawnLogged(
      process.execPath,
      [path.join(DIST, 'scripts', 'emulator.js')],
      { ...process.env, EMULATOR_PORT: String(emulatorPort), EMULATOR_DATA_DIR: emulatorDir, EMULATOR_DEPLOYMENT_SECONDS: String(opts.deploymentSeconds), EMULATOR_AZURITE_PORT: '0' },
      emuLog,
    );
    children.push({
      stop: async () => {
        if (emulator.exitCode !== null) return;
        emulator.kill('SIGTERM');
        await new Promise((r) => emulator.once('exit', r));
      },
    });
    const replicaEnv = await waitFor('the emulator to write replica.env', 60_000, async () => {
      if (emulator.exitCode !== null) throw new Error(`the emulator exited: ${fs.readFileSync(emuLog, 'utf8').slice(-500)}`);
      return fs.readFileSync(emuLog, 'utf8').includes('Service replicas sharing') && parseEnvLines(fs.readFileSync(path.join(emulatorDir, REPLICA_ENV_FILE), 'utf8'));
    });
    const emulatorUrl = replicaEnv.AZURE_EMULATOR_URL;
    const caPem = fs.readFileSync(replicaEnv.AZURE_CA_CERT_PATH, 'utf8');
    log(`emulator at ${emulatorUrl} (deployments ${opts.deploymentSeconds} s), database ${dbName}`);

    const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AZURE_|KEY_VAULT_URL|AUTH_|DATABASE_URL|PORT$|DATA_DIR|RECONCILE_)/.test(k)));
    const replicaEnvFor = (name: string, port: number): NodeJS.ProcessEnv => ({
      ...inherited,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: dbUrl,
      DATA_DIR: path.join(dir, name),
      AZURE_EMULATOR_URL: emulatorUrl,
      AZURE_CA_CERT_PATH: replicaEnv.AZURE_CA_CERT_PATH,
      RECONCILE_INTERVAL_MS: String(opts.intervalMs),
      RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'info',
    });
    const a = new Replica('replica-a', portA, replicaEnvFor('replica-a', portA), dir);
    const b = new Replica('replica-b', portB, replicaEnvFor('replica-b', portB), dir);
    children.push(a, b);
    const started = await Promise.all([a.start(), b.start()]);
    log(`replicas up together on the empty database: ${a.base} (${started[0]} ms), ${b.base} (${started[1]} ms)`);

    // 2. One caller with every role, a publisher in the emulator, the ARM offer with hot pools.
    const client = await createEmulatorClient(emulatorUrl, caPem, { roles: ALL_ROLES });
    const token = await requestAccessToken(emulatorUrl, caPem, client, AUDIENCE);
    const pub = await httpsJson(`${emulatorUrl}/_emulator/publishers`, { method: 'POST', extraCaPem: caPem, headers: { 'content-type': 'application/json' }, body: '{}' });
    if (pub.status !== 201) throw new Error(`POST /_emulator/publishers answered ${pub.status}`);
    const publisher = pub.json as { subscriptionId: string; tenantId: string; clientId: string; clientSecret: string };
    const put = await api(a.base, token, 'PUT', `/offers/${OFFER}`, {
      alias: 'Chaos',
      testDrive: { type: 'azure-resource-manager', durationHours: 1, regions: REGIONS, accessInformation: '<p>Open {{siteUrl}} as {{userName}} / {{password}}</p>' },
      deployment: { subscriptionId: publisher.subscriptionId, tenantId: publisher.tenantId, clientId: publisher.clientId, clientSecret: publisher.clientSecret },
    });
    if (put.status >= 300) throw new Error(`PUT offer: ${put.status} ${JSON.stringify(put.json)}`);
    const sample = path.join(PROJECT_ROOT, 'templates', 'arm', 'sample-webapp');
    const pkg = await api(b.base, token, 'PUT', `/offers/${OFFER}/package`, await zipDirectory(sample, { exclude: ['README.md', 'access-information.html'] }), 'application/zip');
    if (pkg.status >= 300) throw new Error(`PUT package: ${pkg.status} ${JSON.stringify(pkg.json)}`);
    const published = await api(a.base, token, 'POST', `/offers/${OFFER}/publish`);
    if (published.status >= 300) throw new Error(`publish: ${published.status} ${JSON.stringify(published.json)}`);

    const capacity = async (base: string): Promise<CapacityRow[]> => {
      const r = await api(base, token, 'GET', `/capacity?offerId=${OFFER}`);
      if (r.status !== 200) throw new Error(`GET /capacity answered ${r.status}`);
      return (r.json as { value: CapacityRow[] }).value;
    };
    const atTarget = (rows: CapacityRow[]) => rows.length === REGIONS.length && rows.every((r) => r.hotReady === r.hotTarget);
    const t0 = Date.now();
    await waitFor('the hot pools to fill', 120_000, async () => atTarget(await capacity(a.base)));
    log(`hot pools at target after ${Date.now() - t0} ms: ${REGIONS.map((r) => `${r.name} ${r.hot}`).join(', ')}`);
    setupOk = true;

    // 3. A monitor on the database: sessions provisioning too long, instances assigned without a live session.
    db = new Client({ connectionString: dbUrl });
    await db.connect();
    const provisioningBoundMs = opts.intervalMs + 1000;
    const provisioningSince = new Map<string, number>();
    const orphanSince = new Map<string, number>();
    const reported = new Set<string>();
    let maxProvisioningMs = 0;
    let monitorOn = true;
    const monitor = (async () => {
      while (monitorOn) {
        try {
          const now = Date.now();
          const prov = await db.query<{ id: string }>(`SELECT id FROM session WHERE state = 'provisioning'`);
          const seen = new Set(prov.rows.map((r) => r.id));
          for (const id of seen) if (!provisioningSince.has(id)) provisioningSince.set(id, now);
          for (const [id, since] of provisioningSince) {
            if (!seen.has(id)) {
              maxProvisioningMs = Math.max(maxProvisioningMs, now - since);
              provisioningSince.delete(id);
            } else if (now - since > provisioningBoundMs && !reported.has(`p:${id}`)) {
              reported.add(`p:${id}`);
              const claimed = await db.query<{ id: string; state: string }>(`SELECT id, state FROM pool_instance WHERE "sessionId" = $1`, [id]);
              const how = claimed.rows.length
                ? `instance ${claimed.rows[0].id} is ${claimed.rows[0].state} for it but the session was never updated: the replica died between the claim and the session's transition`
                : 'no instance was claimed for it: the replica died after writing the session row';
              violations.push(`session ${id} has stayed provisioning for more than ${provisioningBoundMs} ms (one reconcile interval + 1 s); ${how}`);
            }
          }
          const orphans = await db.query<{ id: string; sessionId: string | null; sstate: string | null }>(
            `SELECT i.id, i."sessionId", s.state AS sstate FROM pool_instance i LEFT JOIN session s ON s.id = i."sessionId"
              WHERE i.state = 'assigned' AND (s.id IS NULL OR s.state NOT IN ('provisioning', 'ready', 'ending'))`,
          );
          const oseen = new Set(orphans.rows.map((r) => r.id));
          for (const r of orphans.rows) {
            if (!orphanSince.has(r.id)) orphanSince.set(r.id, now);
            if (now - orphanSince.get(r.id)! > 3 * opts.intervalMs + 1000 && !reported.has(`o:${r.id}`)) {
              reported.add(`o:${r.id}`);
              violations.push(`instance ${r.id} has stayed assigned without a live session (session ${r.sessionId ?? 'none'}: ${r.sstate ?? 'missing'})`);
            }
          }
          for (const id of [...orphanSince.keys()]) if (!oseen.has(id)) orphanSince.delete(id);
        } catch (err) {
          log(`monitor query failed: ${(err as Error).message}`);
        }
        await sleep(200);
      }
    })();

    // 4. The kills.
    const stats = { answered: new Map<string, number>(), killsOfLeader: 0, handovers: [] as number[], endLags: [] as number[], refills: [] as number[], restarts: [] as number[] };
    const count = (k: string) => stats.answered.set(k, (stats.answered.get(k) ?? 0) + 1);
    for (let i = 1; i <= opts.iterations; i++) {
      const victim = i % 2 === 1 ? a : b;
      const other = victim === a ? b : a;
      const region = REGIONS[(i - 1) % REGIONS.length].name;
      const mode = opts.killAt === 'mixed' ? (i % 2 === 0 ? 'inflight' : 'answer') : opts.killAt;
      const victimLed = victim.leadsByLog();
      let killedAt: number;
      let answer: { status: number; json: any } | undefined;
      if (mode === 'answer') {
        answer = await api(victim.base, token, 'POST', `/offers/${OFFER}/sessions`, { customer, region }).catch(() => undefined);
        killedAt = victim.kill9();
      } else {
        const req = api(victim.base, token, 'POST', `/offers/${OFFER}/sessions`, { customer, region }).catch(() => undefined);
        await sleep(Math.floor(Math.random() * 40));
        killedAt = victim.kill9();
        answer = await req;
      }
      const outcome = answer ? `${answer.status}${answer.json?.state ? ` ${answer.json.state}` : answer.json?.error?.code ? ` ${answer.json.error.code}` : ''}` : 'no answer';
      count(outcome);
      await victim.exited();
      if (mode === 'answer' && !(answer?.status === 201 && answer.json?.state === 'ready')) {
        violations.push(`iteration ${i}: a hot start on ${victim.name} (${region}) answered ${outcome}, not 201 ready`);
      }

      // Leadership: when the leader died, the other replica takes over.
      if (victimLed) {
        stats.killsOfLeader++;
        const took = await waitFor(`${other.name} to lead after ${victim.name} was killed`, 10_000, async () => {
          const t = other.leadershipTimes().filter((x) => x >= killedAt);
          return t.length > 0 ? Math.max(1, t[0] - killedAt) : false;
        }).catch(() => undefined);
        if (took === undefined) violations.push(`iteration ${i}: ${other.name} did not take leadership within 10 s of ${victim.name}'s death`);
        else stats.handovers.push(took);
      }

      stats.restarts.push(await victim.start());

      // Give the service its bound to settle a start the kill interrupted (the monitor judges it), then
      // end every live session through the other replica and measure the end lag.
      await sleep(Math.max(0, killedAt + provisioningBoundMs + 500 - Date.now()));
      const live = await db.query<{ id: string }>(`SELECT id FROM session WHERE "offerId" = $1 AND state IN ('provisioning', 'ready')`, [OFFER]);
      for (const s of live.rows) {
        const t = Date.now();
        const del = await api(other.base, token, 'DELETE', `/sessions/${s.id}`);
        if (del.status !== 202 && del.status !== 200) {
          violations.push(`iteration ${i}: DELETE /sessions/${s.id} answered ${del.status} ${JSON.stringify(del.json).slice(0, 200)}`);
          continue;
        }
        const lag = await waitFor(`session ${s.id} to end`, 60_000, async () => {
          const g = await api(other.base, token, 'GET', `/sessions/${s.id}`);
          return ['ended', 'failed'].includes(g.json?.state) ? Date.now() - t : false;
        }).catch(() => undefined);
        if (lag === undefined) violations.push(`iteration ${i}: session ${s.id} not ended 60 s after DELETE`);
        else stats.endLags.push(lag);
      }

      // Every hot pool back at target.
      const tr = Date.now();
      const refill = await waitFor('the hot pools to refill', opts.refillTimeoutS * 1000, async () => (atTarget(await capacity(other.base)) ? Date.now() - tr : false)).catch(() => undefined);
      if (refill === undefined) {
        const rows = await capacity(other.base).catch(() => []);
        violations.push(`iteration ${i}: hot pools not back at target within ${opts.refillTimeoutS} s: ${JSON.stringify(rows.map((r) => [r.region, r.hotReady, r.hotTarget, r.assigned, r.deploying, r.deleting]))}`);
      } else stats.refills.push(refill);
      log(`#${i} ${victim.name} ${region} (${mode}): ${outcome}; killed${victimLed ? ' (leader)' : ''}, restarted in ${stats.restarts[stats.restarts.length - 1]} ms; pools back at target in ${refill ?? '>timeout'} ms`);
    }
    monitorOn = false;
    await monitor;

    // 5. Summary.
    const max = (xs: number[]) => (xs.length ? Math.max(...xs) : 0);
    const avg = (xs: number[]) => (xs.length ? Math.round(xs.reduce((s, x) => s + x, 0) / xs.length) : 0);
    const summary = [
      '',
      `Replica chaos: ${opts.iterations} kill -9 (${opts.killAt}), reconcile interval ${opts.intervalMs} ms, deployments ${opts.deploymentSeconds} s`,
      `  starts answered:        ${[...stats.answered].map(([k, v]) => `${k} x${v}`).join(', ')}`,
      `  leader killed:          ${stats.killsOfLeader} times; handover (kill -> other replica leads, from logs): max ${max(stats.handovers)} ms, avg ${avg(stats.handovers)} ms`,
      `  longest provisioning:   ${maxProvisioningMs} ms seen (bound ${provisioningBoundMs} ms)`,
      `  end lag (DELETE->ended): max ${max(stats.endLags)} ms, avg ${avg(stats.endLags)} ms`,
      `  pools back at target:   max ${max(stats.refills)} ms, avg ${avg(stats.refills)} ms after the end`,
      `  replica restart:        max ${max(stats.restarts)} ms, avg ${avg(stats.restarts)} ms`,
      violations.length ? `  VIOLATIONS (${violations.length}):\n${violations.map((v) => `    - ${v}`).join('\n')}` : '  violations:             none',
      '',
    ];
    process.stdout.write(summary.join('\n'));
  } catch (err) {
    log(`${setupOk ? 'failed' : 'setup failed'}: ${(err as Error).stack ?? err}`);
    await cleanup(true);
    process.exit(setupOk ? 1 : 2);
  }
  await cleanup(opts.keep || violations.length > 0);
  process.exit(violations.length ? 1 : 0);
}

void main();
