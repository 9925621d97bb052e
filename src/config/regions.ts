import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from './app-config';

/** An Azure region a test drive may use (config/regions.json). */
export interface RegionInfo {
  /** ARM location name, e.g. "westeurope". */
  name: string;
  displayName: string;
}

let cache: RegionInfo[] | undefined;

/** The regions offered to publishers, from config/regions.json (ours: the public docs say 26 but do not name them). */
export function knownRegions(): RegionInfo[] {
  cache ??= (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'config', 'regions.json'), 'utf8')) as { regions: RegionInfo[] }).regions;
  return cache;
}

/** True when `name` is a known ARM location name (exact, lower case). */
export function isKnownRegion(name: string): boolean {
  return knownRegions().some((r) => r.name === name);
}
