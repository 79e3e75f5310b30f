/**
 * The request handler of the `customer-management` Edge Function, without its transport.
 *
 * It stays thin, in the order the kit's proxy uses: preflight, method, declared size, a
 * caller token, the body (size-limited, JSON-checked), then one call of the RPC
 * `customer_management` as the caller. Every decision (validation, matching, merging,
 * rate limits, permissions) is taken in SQL; this only maps the outcome to HTTP:
 *
 * - a normal return is 200 with the RPC's JSON, or 409 for the conflict shape;
 * - an error is PostgREST's body `{code, details, hint, message}` with the API's own
 *   status and its `Retry-After` / `WWW-Authenticate` headers, passed on unchanged;
 * - the API unreachable is 503, anything unexpected a bare 500 (logged, never echoed).
 *
 * `index.ts` plugs supabase-js in as `callRpc`; tests plug in fakes.
 */

import type { ErrorBody, ResolutionResponse } from "../_shared/contract.ts";
import { preflightResponse, withCors } from "../_shared/cors.ts";
import {
  ApiError,
  connectionError,
  errorResponse,
  fromFields,
  functionStatus,
  internalError,
  JSON_CONTENT_TYPE,
  methodNotAllowed,
} from "../_shared/errors.ts";
import {
  callerToken,
  checkDeclaredLength,
  MAX_BODY_BYTES,
  readJson,
} from "../_shared/request.ts";

/** The RPC the function wraps. */
export const RPC_NAME = "customer_management";

/** What a supabase-js `rpc()` call resolves to (the fields the handler reads). */
export interface RpcOutcome {
  /** The RPC's answer: the contract's success or conflict shape (null for no body). */
  data: ResolutionResponse | null;
  /** PostgREST's error body as supabase-js hands it over (fields may be missing). */
  error: { [K in keyof ErrorBody]?: unknown } | null;
  /** The API's HTTP status; 0 when the request never got an answer. */
  status: number;
  /** The API's response headers, when known (`WWW-Authenticate`, `Retry-After`). */
  headers?: Headers | null;
}

/** API response headers passed on with an error answer. */
export const FORWARDED_ERROR_HEADERS: readonly string[] = [
  "www-authenticate",
  "retry-after",
];

/**
 * The header a backend names the user it acts for with (its session or user id): passed
 * on to the API, where what the backend vouches for spends that requester's rate limit.
 */
export const REQUESTER_HEADER = "x-customer-requester";

/**
 * Calls the RPC with `body`, authenticated as the bearer `token`, naming `requester` (the
 * `X-Customer-Requester` header) when the caller sent one.
 */
export type RpcCaller = (
  body: unknown,
  token: string,
  requester: string | null,
) => Promise<RpcOutcome>;

export interface HandlerOptions {
  /** Largest accepted body in bytes (default 16 KB, the kit's limit). */
  maxBodyBytes?: number;
  /** Where one line per request goes (default `console.log`); never bodies or tokens. */
  log?: (line: string) => void;
  /** Where unexpected errors go (default `console.error`). */
  logError?: (message: string, error: unknown) => void;
}

/** A JSON response from a value. */
function jsonResponse(value: unknown, status: number): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": JSON_CONTENT_TYPE },
  });
}

/** The response for one RPC outcome. */
export function outcomeResponse(outcome: RpcOutcome): Response {
  const { data, error, status } = outcome;
  if (error !== null) {
    if (!status) {
      throw connectionError();
    }
    if (status < 300) {
      // A 2xx whose body was not JSON: nothing the contract knows how to answer.
      throw new Error(
        `the API answered ${status} with a body that is not JSON`,
      );
    }
    // PostgREST's status for its own answer (the table lives with the API, not here).
    const apiError = fromFields(
      error.code,
      error.message,
      error.details,
      error.hint,
      status,
    );
    for (const name of FORWARDED_ERROR_HEADERS) {
      const value = outcome.headers?.get(name);
      if (value) {
        apiError.headers[name] = value;
      }
    }
    throw apiError;
  }
  // A void answer (204, no body) is `null`, as the proxy's function route answers it.
  return jsonResponse(data ?? null, functionStatus(data));
}

/** The handler: `(request) => response`, CORS headers on every answer. */
export function createHandler(
  callRpc: RpcCaller,
  options: HandlerOptions = {},
): (request: Request) => Promise<Response> {
  const limit = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const log = options.log ?? ((line: string) => console.log(line));
  const logError = options.logError ??
    ((message: string, error: unknown) => console.error(message, error));

  async function respond(request: Request): Promise<Response> {
    if (request.method !== "POST") {
      throw methodNotAllowed(request.method);
    }
    checkDeclaredLength(request.headers, limit);
    const token = callerToken(request);
    const body = await readJson(request, limit);
    const outcome = await callRpc(
      body,
      token,
      request.headers.get(REQUESTER_HEADER),
    );
    return outcomeResponse(outcome);
  }

  return async function handle(request: Request): Promise<Response> {
    if (request.method === "OPTIONS") {
      return preflightResponse(request);
    }
    const started = performance.now();
    let response: Response;
    let code: string | null = null;
    try {
      response = await respond(request);
    } catch (caught) {
      let error: ApiError;
      if (caught instanceof ApiError) {
        error = caught;
      } else {
        logError("customer-management: unexpected error", caught);
        error = internalError();
      }
      code = error.code;
      response = errorResponse(error);
    }
    const headers = withCors(response.headers);
    log(JSON.stringify({
      event: "request",
      method: request.method,
      status: response.status,
      latency_ms: Math.round((performance.now() - started) * 100) / 100,
      code,
    }));
    return new Response(response.body, { status: response.status, headers });
  };
}
