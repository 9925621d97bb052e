import type { RawBodyRoute } from '../../../src/common/body-policy';

/**
 * Limits on ARM template packages (PUT /offers/{id}/package). Ours unless noted: the public material
 * only says "a .zip whose root holds main-template.json".
 */

/** Largest accepted upload (the zip itself), in bytes. The limit of PACKAGE_UPLOAD_ROUTE (the body policy's `express.raw`). */
export const PACKAGE_MAX_BYTES = 50 * 1024 * 1024;
/** Content type of a package upload. */
export const PACKAGE_CONTENT_TYPE = 'application/zip';
/** Content types accepted for a package upload (Windows browsers label zips application/x-zip-compressed). */
export const PACKAGE_CONTENT_TYPES = [PACKAGE_CONTENT_TYPE, 'application/x-zip-compressed'];
/** At most this many entries (files and folders) in a package. */
export const PACKAGE_MAX_ENTRIES = 1000;
/** Total uncompressed size of all files, in bytes. */
export const PACKAGE_MAX_TOTAL_UNCOMPRESSED_BYTES = 100 * 1024 * 1024;
/** Uncompressed size of any one file, in bytes. */
export const PACKAGE_MAX_FILE_BYTES = 50 * 1024 * 1024;
/**
 * Zip bomb guard: an entry whose uncompressed size exceeds this many times its compressed size is
 * refused (applies to entries larger than PACKAGE_RATIO_MIN_BYTES, so tiny files compress freely).
 */
export const PACKAGE_MAX_COMPRESSION_RATIO = 100;
/** Entries below this uncompressed size are exempt from the compression ratio guard. */
export const PACKAGE_RATIO_MIN_BYTES = 1024 * 1024;
/** The template every package must hold at its root. */
export const MAIN_TEMPLATE = 'main-template.json';
/** ARM: a template may be at most 4 MB. */
export const TEMPLATE_MAX_BYTES = 4 * 1024 * 1024;
/** Ours: JSON nesting depth of main-template.json. */
export const TEMPLATE_MAX_DEPTH = 64;
/** Blob names are at most 1024 characters (Azure Storage). */
export const ENTRY_MAX_NAME_CHARS = 1024;

/** PUT /offers/{id}/package takes the zip as a raw body (the core's body policy; registered in modules/index.ts). */
export const PACKAGE_UPLOAD_ROUTE: RawBodyRoute = { method: 'PUT', path: /^\/api\/v1\/offers\/[^/]+\/package\/?$/, contentTypes: PACKAGE_CONTENT_TYPES, limitBytes: PACKAGE_MAX_BYTES };
