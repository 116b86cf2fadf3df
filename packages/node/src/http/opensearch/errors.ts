/**
 * Errors in OpenSearch's shape on the paths that imitate it, so that OpenSearch clients show the
 * reason instead of "Response Error":
 *   {"error":{"root_cause":[{"type","reason"}],"type","reason"},"status":N}
 * The server's error handler stays the one place that decides status, message and logging; a
 * scope registered through `openSearchScope` only reshapes the `{"error": "..."}` it sends.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HttpError } from '../../errors';

/** An error with OpenSearch's exception type, for the reasons that have a more exact one. */
export class OpenSearchError extends HttpError {
  constructor(status: number, readonly type: string, reason: string) {
    super(status, reason);
  }
}

export interface OpenSearchErrorBody {
  error: { root_cause: Array<{ type: string; reason: string }>; type: string; reason: string };
  status: number;
}

/** The exception type OpenSearch reports for a status when nothing more exact is known. */
export function typeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'illegal_argument_exception';
    case 401:
    case 403:
      return 'security_exception';
    case 404:
      return 'resource_not_found_exception';
    case 429:
      return 'rejected_execution_exception';
    default:
      return 'status_exception';
  }
}

export function openSearchErrorBody(status: number, type: string, reason: string): OpenSearchErrorBody {
  return { error: { root_cause: [{ type, reason }], type, reason }, status };
}

// The server's JSON parser refuses bad JSON with this message; OpenSearch calls that a parse error.
const MALFORMED_JSON = 'malformed JSON body';

/** The exact type of the error being answered, kept from onError until onSend reshapes the body. */
const typeOf = new WeakMap<FastifyRequest, string>();

/** Reshapes `{"error": "..."}` (and only that) into OpenSearch's error body; anything else passes. */
export function reshapeError(payload: unknown, status: number, type?: string): string | undefined {
  if (status < 400 || typeof payload !== 'string' || !payload.startsWith('{"error":"')) return undefined;
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const keys = typeof body === 'object' && body !== null ? Object.keys(body) : [];
  const reason = (body as { error?: unknown }).error;
  if (keys.length !== 1 || typeof reason !== 'string') return undefined;
  return JSON.stringify(openSearchErrorBody(status, type ?? (status === 400 && reason === MALFORMED_JSON ? 'parse_exception' : typeForStatus(status)), reason));
}

/**
 * Registers `routes` in their own encapsulated scope whose error bodies are OpenSearch's. The
 * hooks are the scope's own: routes outside it (the /v1 paths) keep `{"error": "..."}`.
 */
export function openSearchScope(app: FastifyInstance, routes: (scope: FastifyInstance) => void): void {
  void app.register(async (scope) => {
    scope.addHook('onError', async (req, _reply, err) => {
      if (err instanceof OpenSearchError) typeOf.set(req, err.type);
    });
    scope.addHook('onSend', async (req, reply, payload) => reshapeError(payload, reply.statusCode, typeOf.get(req)) ?? payload);
    routes(scope);
  });
}
