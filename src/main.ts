import 'reflect-metadata';
import cluster from 'node:cluster';
import * as fs from 'node:fs';
import { INestApplication } from '@nestjs/common';
import { AzureRuntime } from './azure/azure-runtime';
import { createApp } from './bootstrap';
import { AppConfig, ConfigError, loadConfig } from './config/app-config';
import { startEmbeddedAzure } from './embedded/embedded-azure';
import { seedSampleOffer } from './embedded/sample-offer';
import { embeddedCallers, registerServiceApi } from './embedded/embedded-callers';
import { sharedEmulatorRuntime } from './embedded/shared-emulator';
import { openDataSource } from './persistence/data-source';
import { embeddedDashboard, EmbeddedDashboard } from './embedded/embedded-dashboard';

/**
 * Entry point. Real Azure when KEY_VAULT_URL (and the service identity) are configured; a shared local
 * emulator when AZURE_EMULATOR_URL is set (several replicas on one `npm run emulator`: docs/operations.md,
 * "Running several replicas"); otherwise the embedded default: the local emulator and Azurite are
 * started, and a sample ARM offer from templates/ is published so a test drive can be started with curl
 * right away. The API needs Entra ID tokens: in the embedded default the emulator issues them, and the
 * banner prints one per app role.
 */
async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  if (config.workers > 1 && cluster.isPrimary) {
    runPrimary(config);
    return;
  }

  let runtime: AzureRuntime;
  let embedded: Awaited<ReturnType<typeof startEmbeddedAzure>> | undefined;
  if (config.azureMode === 'emulator') {
    try {
      embedded = await startEmbeddedAzure(config);
    } catch (err) {
      exitIfPortBusy(err, config);
      throw err;
    }
    runtime = embedded.runtime;
  } else if (config.azureMode === 'shared-emulator') {
    try {
      runtime = sharedEmulatorRuntime(config);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
  } else {
    const a = config.azure;
    runtime = new AzureRuntime(
      {
        authorityHost: a.authorityHost,
        resourceManagerEndpoint: a.resourceManagerEndpoint,
        resourceManagerAudience: a.resourceManagerAudience,
        keyVaultUrl: a.keyVaultUrl!,
        storageConnectionString: a.storageConnectionString!,
        extraCaPem: a.caCertPath ? fs.readFileSync(a.caCertPath, 'utf8') : undefined,
        emulated: false,
      },
      { tenantId: a.tenantId!, clientId: a.clientId!, clientSecret: a.clientSecret! },
    );
  }

  // Replicas starting together on one PostgreSQL database: the migrations run here, under the migration
  // advisory lock (one replica migrates, the others wait and find nothing pending), before Nest opens
  // its own connection pool.
  if (config.database.kind === 'postgres') await (await openDataSource(config.database)).destroy();

  const base = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`;
  // Embedded default (issue 11): escalation e-mails go to the emulator's SMTP sink, and the dashboard
  // signs in against the emulator with a registered web app and two local users.
  let dashboard: EmbeddedDashboard | undefined;
  if (embedded) {
    config.alerts.smtpUrl ??= embedded.emulator.smtpUrl;
    if (!config.dashboard.clientId) {
      try {
        dashboard = await embeddedDashboard(embedded.emulator, config.dataDir, base);
        config.dashboard = { ...config.dashboard, clientId: dashboard.clientId, clientSecret: dashboard.clientSecret, publicUrl: config.dashboard.publicUrl ?? base };
      } catch (err) {
        process.stderr.write(`dashboard sign-in not set up: ${(err as Error).message}\n`);
      }
    }
  }

  const app: INestApplication = await createApp({ config, azure: runtime });
  try {
    await app.listen(config.port, config.host);
  } catch (err) {
    await app.close().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    exitIfPortBusy(err, config);
    throw err;
  }
  // One owner of shutdown: close the app (Nest shutdown hooks run: the reconcile loop stops and its
  // lease is released), then the embedded emulator and Azurite. A second signal exits at once.
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stdout.write(`\n${signal}: shutting down\n`);
    await app.close().catch(() => undefined);
    await embedded?.stop().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const lines = [
    '',
    `Test drive orchestrator listening on ${base}`,
    `  Dashboard: ${base}/   (operators and publishers, Entra ID sign-in)`,
    `  API:      ${base}/api/v1   (OpenAPI: ${base}/api/docs; Prometheus: ${base}/metrics with an operator token)`,
    `  Health:   ${base}/health`,
    `  Database: ${config.database.kind === 'sqlite' ? config.database.file : 'PostgreSQL'}`,
  ];
  if (config.azureMode === 'shared-emulator') {
    const ep = runtime.endpoints;
    lines.push(
      `  Azure:    shared emulator at ${ep.authorityHost} (service identity ${runtime.serviceIdentity.clientId}); blob storage ${/BlobEndpoint=([^;]+)/.exec(ep.storageConnectionString)?.[1] ?? '(connection string)'}`,
      `  Tokens:   npm run token -- <marketplace|publisher|operator> --emulator ${ep.authorityHost}`,
    );
    try {
      await registerServiceApi(ep.authorityHost, ep.extraCaPem ?? '', config.auth.audience);
    } catch (err) {
      lines.push(`  (API app ${config.auth.audience} not registered in the emulator: ${(err as Error).message})`);
    }
  }
  if (embedded) {
    lines.push(`  Azure:    local emulator at ${embedded.emulatorUrl} (CA: ${embedded.caCertPath}), Azurite at ${embedded.blobEndpoint}`);
    if (dashboard) {
      lines.push(
        `  Sign in:  open ${base}/ and sign in on the emulator's page as`,
        `            ${dashboard.operator.userPrincipalName} / ${dashboard.operator.password}   (operator: every offer)`,
        `            ${dashboard.publisher.userPrincipalName} / ${dashboard.publisher.password}   (publisher: its tenant's offers)`,
      );
    }
    if (embedded.emulator.smtpUrl) lines.push(`  Alerts:   e-mails to the emulator's SMTP sink ${embedded.emulator.smtpUrl}; read them at ${embedded.emulatorUrl}/_emulator/mail`);
    lines.push(
      `  Leads:    rehearse a destination offline: an HTTPS receiver (curl -sk -X POST ${embedded.emulatorUrl}/_emulator/receivers) or Azurite's tables`,
      `            ("leads": {"destination": {"type": "azure-table", "connectionString": "${embedded.storageConnectionString}"}})`,
    );
    try {
      await registerServiceApi(embedded.emulatorUrl, embedded.emulator.caCertPem, config.auth.audience);
      const callers = await embeddedCallers(embedded.emulatorUrl, embedded.emulator.caCertPem, config.dataDir, config.auth.audience);
      lines.push(
        `  Auth:     Entra ID tokens from the emulator (audience ${config.auth.audience}); ready-made, valid 1 h (new ones: npm run token -- <role>):`,
        `    export MARKETPLACE_TOKEN=${callers.marketplace.token}`,
        `    export PUBLISHER_TOKEN=${callers.publisher.token}`,
        `    export OPERATOR_TOKEN=${callers.operator.token}`,
        `  Try:      curl -s ${base}/api/v1/offers -H "Authorization: Bearer $PUBLISHER_TOKEN"`,
      );
      try {
        const sample = await seedSampleOffer(base, embedded, callers.publisher.token);
        lines.push(...sample);
      } catch (err) {
        lines.push(`  (sample offer not seeded: ${(err as Error).message})`);
      }
    } catch (err) {
      lines.push(`  (no ready-made tokens: ${(err as Error).message})`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

/**
 * A port this start needs is taken (EADDRINUSE, e.g. a second `npm start`): says which setting to change
 * and exits 2. Returns when `err` is something else.
 */
function exitIfPortBusy(err: unknown, config: AppConfig): void {
  const e = err as { code?: string; port?: number; message?: string };
  const text = `${e?.code ?? ''} ${e?.message ?? ''}`;
  if (!/EADDRINUSE/.test(text)) return;
  const port = e.port ?? Number(/:(\d+)\b/.exec(e.message ?? '')?.[1]);
  const setting =
    port === config.emulatorPort
      ? 'EMULATOR_PORT'
      : port === config.emulatorSmtpPort
        ? 'EMULATOR_SMTP_PORT'
      : port === config.azuriteTablePort
        ? 'AZURITE_TABLE_PORT'
        : port === config.azuriteBlobPort || /Azurite/.test(text)
          ? 'AZURITE_BLOB_PORT'
          : port === config.port
            ? 'PORT'
            : 'PORT, EMULATOR_PORT, EMULATOR_SMTP_PORT, AZURITE_BLOB_PORT or AZURITE_TABLE_PORT';
  process.stderr.write(
    `Port ${Number.isFinite(port) ? port : '?'} is already in use (another \`npm start\`?). Stop that process, or start on other ports, e.g. ${setting}=<free port> npm start\n`,
  );
  process.exit(2);
}

void main().catch((err) => {
  process.stderr.write(`Failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});

/**
 * WORKERS > 1 (issue 14): this process only supervises `config.workers` API workers (Node cluster: they
 * share PORT, connections are spread round-robin). Each worker is a full replica on the same PostgreSQL
 * database; the reconcile loop runs in whichever holds the lease. A worker that exits unexpectedly is
 * replaced after a second; SIGINT/SIGTERM stop every worker, then this process.
 */
function runPrimary(config: AppConfig): void {
  let stopping = false;
  const fork = () => cluster.fork();
  for (let i = 0; i < config.workers; i++) fork();
  process.stdout.write(`Test drive orchestrator: ${config.workers} API workers on port ${config.port} (WORKERS), supervisor pid ${process.pid}\n`);
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (!Object.keys(cluster.workers ?? {}).length) process.exit(0);
      return;
    }
    process.stderr.write(`worker ${worker.process.pid} exited (${signal ?? code}); starting another\n`);
    setTimeout(fork, 1000).unref();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
    setTimeout(() => process.exit(0), 15_000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
