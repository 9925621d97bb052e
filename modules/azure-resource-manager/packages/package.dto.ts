import { z } from 'zod';
import { apiComponent } from '../../../src/common/openapi';
import { METADATA_TYPES, MetadataType } from './template-parameters';

const metadataTypes = Object.keys(METADATA_TYPES) as [MetadataType, ...MetadataType[]];

/** A parameter of main-template.json as the service recognised it (package revision views). */
export const recognisedParameterSchema = z
  .object({
    name: z.string().meta({ description: 'Parameter name in main-template.json.', example: 'adminPassword' }),
    armType: z.string().meta({ description: 'ARM type as declared (string, securestring, int, ...).', example: 'securestring' }),
    metadataType: z
      .enum(metadataTypes)
      .nullable()
      .meta({ description: 'metadata.type in lower case: the service fills the parameter in (base URI, session id, user name, password); null when it has a default.', example: 'password' }),
    hasDefault: z.boolean().meta({ description: 'Whether the template gives a default value.', example: false }),
    valueSource: z
      .enum(['generated', 'package', 'session', 'default', 'default-expression'])
      .optional()
      .meta({ description: "Where the value comes from: generated (user name, password), session (id), package (base URI), default (checked against the parameter's constraints at upload), default-expression (checked by ARM at publish).", example: 'generated' }),
    passwordLength: z.number().int().optional().meta({ description: 'password parameters: the length generated (10, or minLength when longer).', example: 12 }),
  })
  .meta({ description: 'A template parameter the service recognised.' });

/** The current package revision as the offer view shows it (ARM: TestDriveSchemas.offerView). */
export const packageRevisionSummarySchema = z
  .object({
    id: z.string().meta({ example: '6f1c2f0e-0c55-4c1b-9d67-3f0f9b3a2d11' }),
    number: z.number().int().meta({ description: 'Revision number: 1, 2, ... per offer.', example: 1 }),
    baseUri: z.string().optional().meta({ description: 'Where the unzipped package is served from (the baseuri parameter).', example: 'http://127.0.0.1:10000/devstoreaccount1/pkg-contoso-1-1a2b3c4d/' }),
    parameters: z.array(recognisedParameterSchema),
  })
  .meta({ description: 'The current ARM template package revision (PUT /offers/{offerId}/package); null before the first upload.' });

/** A package revision as GET / PUT /offers/{offerId}/package return it. */
export const packageRevisionViewSchema = apiComponent(
  'PackageRevision',
  z
    .object({
      id: z.string().meta({ example: '6f1c2f0e-0c55-4c1b-9d67-3f0f9b3a2d11' }),
      number: z.number().int().meta({ description: 'Revision number: 1, 2, ... per offer.', example: 1 }),
      baseUri: z.string().meta({ description: 'Where the unzipped package is served from (the baseuri parameter).', example: 'http://127.0.0.1:10000/devstoreaccount1/pkg-contoso-crm-1-1a2b3c4d/' }),
      files: z.array(
        z.object({
          path: z.string().meta({ description: 'Path inside the package.', example: 'nested/webapp.json' }),
          bytes: z.number().int().meta({ description: 'Size unzipped.', example: 2048 }),
        }),
      ),
      totalBytes: z.number().int().meta({ description: 'Size of every file unzipped.', example: 4096 }),
      parameters: z.array(recognisedParameterSchema),
      createdAt: z.string().meta({ description: 'ISO 8601 UTC.', example: '2026-01-01T00:00:00.000Z' }),
    })
    .meta({ description: 'An ARM template package revision: its files and the template parameters the service fills in.' }),
);

/** JSON shape of a package revision in responses. */
export type PackageRevisionView = z.infer<typeof packageRevisionViewSchema>;

/** Body of GET / PUT /offers/{offerId}/package: `{ revision }`. */
export const packageResponseSchema = apiComponent(
  'PackageResponse',
  z
    .object({ revision: packageRevisionViewSchema })
    .meta({
      description: 'The current package revision.',
      example: {
        revision: {
          id: '6f1c2f0e-0c55-4c1b-9d67-3f0f9b3a2d11',
          number: 1,
          baseUri: 'http://127.0.0.1:10000/devstoreaccount1/pkg-contoso-crm-1-1a2b3c4d/',
          files: [
            { path: 'main-template.json', bytes: 2048 },
            { path: 'nested/webapp.json', bytes: 2048 },
          ],
          totalBytes: 4096,
          parameters: [
            { name: 'baseUri', armType: 'string', metadataType: 'baseuri', hasDefault: false },
            { name: 'adminPassword', armType: 'securestring', metadataType: 'password', hasDefault: false },
            { name: 'sku', armType: 'string', metadataType: null, hasDefault: true },
          ],
          createdAt: '2026-01-01T00:00:00.000Z',
        },
      },
    }),
);
