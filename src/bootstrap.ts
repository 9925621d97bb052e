import { INestApplication, RequestMethod } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { AppOptions } from './core.module';
import { ApiExceptionFilter } from './common/api-exception.filter';
import { AppConfig } from './config/app-config';
import { TEST_DRIVE_RAW_BODY_ROUTES } from '../modules';
import { bodyPolicy } from './common/body-policy';
import { withZodComponents } from './common/openapi';
import { offerApiComponents } from './offers/offer.dto';
import { capacityApiComponents } from './capacity/capacity.dto';
import { TestDriveTypeRegistry } from './test-drives/test-drive-type.registry';
import type { z } from 'zod';

/** Largest JSON body accepted (bytes). */
export const JSON_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Applies what every instance of the HTTP app needs (production and tests alike): the /api/v1
 * prefix (health stays at /health), the body policy (JSON everywhere, zip only on the package upload,
 * each with its own limit and 415/413 before a byte is read; the raw routes are the types': modules/index.ts), the
 * error filter, and OpenAPI at /api/docs (built on first request, once the test drive types are
 * registered; its schemas are generated from the zod schemas: openApiComponents).
 */
export function configureApp(app: INestApplication, config: AppConfig): void {
  void config;
  app.setGlobalPrefix('api/v1', {
    exclude: [
      { path: 'health', method: RequestMethod.GET },
      { path: 'health/{*rest}', method: RequestMethod.GET },
      { path: 'metrics', method: RequestMethod.GET },
      // The dashboard (issue 11): pages at / and /ui, sign-in at /auth, static files at /assets.
      { path: '/', method: RequestMethod.GET },
      { path: 'ui/{*rest}', method: RequestMethod.GET },
      { path: 'auth/{*rest}', method: RequestMethod.ALL },
      { path: 'assets/{*rest}', method: RequestMethod.GET },
    ],
  });
  app.use(
    bodyPolicy({
      jsonLimitBytes: JSON_BODY_LIMIT_BYTES,
      // Declared by the test drive types (ARM: the package upload), and the dashboard's sign-out form.
      rawRoutes: [...TEST_DRIVE_RAW_BODY_ROUTES, { method: 'POST', path: /^\/auth\/signout$/, contentTypes: ['application/x-www-form-urlencoded'], limitBytes: 4096 }],
    }),
  );
  app.useGlobalFilters(new ApiExceptionFilter());
  const doc = new DocumentBuilder()
    .setTitle('Test drive orchestrator')
    .setDescription(
      'Marketplace test drives: publishers configure offers (ARM template packages, regions, hot/cold pools); ' +
        'the marketplace starts, polls and ends sessions; operators watch capacity. ' +
        'Authentication: `Authorization: Bearer <Entra ID access token>` with an app role (Authorize button; docs/security.md). ' +
        'Embedded default: `npm run token -- publisher|marketplace|operator` prints a token.',
    )
    .setVersion('1')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'Every /api/v1 operation needs an Entra ID access token for the service (audience = AUTH_AUDIENCE, default ' +
          'api://test-drive-orchestrator; client credentials, scope "<audience>/.default") whose `roles` claim holds the app role ' +
          'the operation lists under x-required-roles: TestDrive.Marketplace, TestDrive.Publisher or TestDrive.Operator. ' +
          'Embedded default: `npm run token -- publisher` (or marketplace / operator) prints one; the start banner prints one per role. ' +
          'Missing/invalid token: 401 with WWW-Authenticate: Bearer; wrong role: 403; over the per-client rate limit: 429 with Retry-After.',
      },
      'entra',
    )
    .build();
  SwaggerModule.setup('api/docs', app, () => withZodComponents(SwaggerModule.createDocument(app, doc), openApiComponents(app)), { useGlobalPrefix: false });
}

/**
 * The OpenAPI components that depend on the registered test drive types (the PUT /offers body, the
 * offer view, capacity rows), name -> zod schema; the document also holds every schema named with
 * apiComponent (src/common/openapi.ts). Call after app.init() (types register on module init).
 */
export function openApiComponents(app: INestApplication): Record<string, z.ZodType> {
  const types = app.get(TestDriveTypeRegistry).all();
  return { ...offerApiComponents(types), ...capacityApiComponents(types) };
}

/**
 * Creates the Nest application (not yet listening) from resolved options.
 * Body parsing is done by configureApp's parsers (Nest's own is off so limits are ours).
 */
export async function createApp(opts: AppOptions): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot(opts), { bufferLogs: true, bodyParser: false });
  app.useLogger(app.get(Logger));
  // Without listen() (tests call init()) the buffered Nest logs would never leave the buffer.
  app.flushLogs();
  configureApp(app, opts.config);
  return app;
}
