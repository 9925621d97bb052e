export { Role, ALL_ROLES, ROLE_BY_NAME, isRole } from './roles';
export { Caller } from './caller';
export { Public, Roles, CurrentCaller, BEARER_SCHEME } from './decorators';
export { checkOfferAccess, mayAccessOffer, ownsOffer, type OfferAccess } from './offer-access';
export { TokenVerifier, AuthenticationError } from './token-verifier';
