import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { BlobServiceClient, ContainerClient, StoragePipelineOptions } from '@azure/storage-blob';
import { AzureRuntime } from '../../../src/azure/azure-runtime';
import { PackageFile } from './package-zip';

const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.ps1': 'text/plain; charset=utf-8',
  '.psm1': 'text/plain; charset=utf-8',
  '.sh': 'text/x-shellscript; charset=utf-8',
  '.py': 'text/x-python; charset=utf-8',
  '.xml': 'application/xml',
  '.yaml': 'text/yaml; charset=utf-8',
  '.yml': 'text/yaml; charset=utf-8',
  '.zip': 'application/zip',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.pdf': 'application/pdf',
  '.bicep': 'text/plain; charset=utf-8',
};

/** Content type of a package file by extension (application/octet-stream when unknown). */
export function contentTypeFor(file: string): string {
  return CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Blob container name of a package revision: `pkg-<offerId>-<revision>-<8 hex>` within Azure's rules
 * (3-63 characters, lowercase letters, digits and single '-', starting and ending with a letter or
 * digit). '_' in the offer id becomes '-', runs of '-' collapse, and the id is shortened to fit.
 */
export function containerNameFor(offerId: string, revision: number, shortId = randomUUID().replace(/-/g, '').slice(0, 8)): string {
  const tail = `-${revision}-${shortId}`;
  let id = offerId
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  id = id.slice(0, 63 - 'pkg-'.length - tail.length).replace(/-+$/, '');
  return `pkg${id ? `-${id}` : ''}${tail}`;
}

/**
 * Where package revisions are served from: one blob container per revision (public read access at
 * blob level, because ARM fetches templateLink URLs anonymously), files uploaded with their folder
 * structure and content types. Azurite locally, an Azure Storage account otherwise.
 */
@Injectable()
export class PackageStorage {
  private readonly logger = new Logger(PackageStorage.name);
  private readonly service: BlobServiceClient;

  constructor(runtime: AzureRuntime) {
    // The storage pipeline has its own option types: map the runtime's common options onto them.
    const { retryOptions } = runtime.clientOptions;
    const options: StoragePipelineOptions = retryOptions ? { retryOptions: { maxTries: retryOptions.maxRetries + 1 } } : {};
    this.service = BlobServiceClient.fromConnectionString(runtime.endpoints.storageConnectionString, options);
  }

  /**
   * Creates container `containerName` (public blob access) and uploads `files` into it (8 at a time).
   * On failure the container is deleted (best effort) and the error rethrown.
   * @returns the container URL + '/', the revision's base URI.
   */
  async upload(containerName: string, files: PackageFile[]): Promise<string> {
    const container = this.service.getContainerClient(containerName);
    await container.create({ access: 'blob' });
    try {
      let next = 0;
      const worker = async () => {
        while (next < files.length) {
          const f = files[next++];
          await container.getBlockBlobClient(f.path).uploadData(f.data, { blobHTTPHeaders: { blobContentType: contentTypeFor(f.path) } });
        }
      };
      await Promise.all(Array.from({ length: Math.min(8, files.length) }, worker));
    } catch (err) {
      await this.deleteContainer(containerName);
      throw err;
    }
    return `${container.url.replace(/\/+$/, '')}/`;
  }

  /** Deletes a revision's container; missing containers are fine. */
  async deleteContainer(containerName: string): Promise<void> {
    try {
      await this.service.getContainerClient(containerName).deleteIfExists();
    } catch (err) {
      this.logger.warn(`Could not delete package container '${containerName}': ${(err as Error).message}`);
    }
  }

  /** The container client of a revision (tests, cleanup). */
  container(containerName: string): ContainerClient {
    return this.service.getContainerClient(containerName);
  }
}
