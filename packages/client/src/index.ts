export { AuthcacheClient, type ClientOptions, type ClusterSettingsQuery, DEFAULT_TIMEOUT_MS } from './client';
export {
  type Attempt,
  AuthcacheError,
  BadRequestError,
  ConnectionError,
  ForbiddenError,
  HttpError,
  InvalidCredentialsError,
  InvalidResponseError,
  NotFoundError,
  TooManyRequestsError,
  UnauthorizedError,
  UnavailableError,
} from './errors';
export { DEFAULT_PORT, normalizeNode } from './nodes';
export * from './types';
