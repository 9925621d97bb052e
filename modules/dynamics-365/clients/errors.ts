/**
 * Moved to src/remote/remote-error.ts (issue 9: one classification of remote failures). These aliases
 * stay only while DynamicsTestDriveType (being edited elsewhere at the moment) imports them from here;
 * new code imports src/remote.
 */
import { classifyRemoteError } from '../../../src/remote/remote-error';

export { RemoteError } from '../../../src/remote/remote-error';
export type { RemoteService } from '../../../src/remote/remote-error';

/** @deprecated classifyRemoteError (src/remote/remote-error.ts). */
export const toRemoteError = classifyRemoteError;
