/** Remote services (issue 9): one error classification, one retry predicate, one HTTP client. */
export * from './remote-error';
export * from './retry';
export * from './http';
