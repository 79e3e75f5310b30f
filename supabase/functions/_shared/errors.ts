/**
 * PostgREST's error body, and the one status rule the Edge Function adds.
 *
 * The function does not map SQLSTATEs to HTTP statuses itself: PostgREST (or the kit's
 * local proxy) already answered the RPC with its status, and that status is passed on
 * unchanged, with the API's `Retry-After` and `WWW-Authenticate` headers. The only rule
 * added here is the contract's: the conflict shape, a normal return of the RPC, is 409 on
 * `/functions/v1/customer-management`. Its marker comes from `contract.schema.json`.
 *
 * The body is always `{"code", "details", "hint", "message"}`; nothing else (no stack, no
 * SQL) ever leaves the function.
 */

import contract from "./contract.schema.json" with { type: "json" };
import type { ErrorBody } from "./contract.ts";

export type { ErrorBody };

export const CONFLICT_STATUS = 409;
export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";
export const MAX_BODY_DETAIL = "The request body is larger than 16 KB.";

/** The `error` value of the conflict shape, as the contract fixes it. */
export const CONFLICT_ERROR: string =
  contract.$defs.Conflict.properties.error.const;

/** Whether a `customer_management` result is the conflict shape (HTTP 409). */
export function isConflict(result: unknown): boolean {
  if (typeof result !== "object" || result === null || Array.isArray(result)) {
    return false;
  }
  const record = result as Record<string, unknown>;
  const conflicts = record.conflicts;
  return record.error === CONFLICT_ERROR && typeof conflicts === "object" &&
    conflicts !== null && !Array.isArray(conflicts);
}

/** Status of a normal return on `/functions/v1/customer-management`: 409 or 200. */
export function functionStatus(result: unknown): number {
  return isConflict(result) ? CONFLICT_STATUS : 200;
}

/** An error answer: status, PostgREST body fields and extra response headers. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: string | null;
  readonly hint: string | null;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    details: string | null = null,
    hint: string | null = null,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.hint = hint;
    this.headers = { ...headers };
  }

  /** The JSON body. */
  body(): ErrorBody {
    return {
      code: this.code,
      details: this.details,
      hint: this.hint,
      message: this.message,
    };
  }

  /** Content type, PostgREST's `Proxy-Status` and the error's own headers. */
  responseHeaders(): Record<string, string> {
    return {
      "content-type": JSON_CONTENT_TYPE,
      "proxy-status": `PostgREST; error=${this.code}`,
      ...this.headers,
    };
  }
}

/** Details and hint are strings or null in PostgREST bodies. */
function text(value: unknown): string | null {
  if (value === null || value === undefined) {
    return null;
  }
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** The API's error answer as received: its status and PostgREST's body fields. */
export function fromFields(
  code: unknown,
  message: unknown,
  details: unknown,
  hint: unknown,
  status: number,
): ApiError {
  const errorCode = typeof code === "string" && code ? code : "PGRSTX00";
  const errorMessage = typeof message === "string" ? message : "";
  return new ApiError(
    status,
    errorCode,
    errorMessage,
    text(details),
    text(hint),
  );
}

/** 401 when the request carries neither an `apikey` nor a bearer token. */
export function missingApiKey(): ApiError {
  return new ApiError(
    401,
    "PGRST302",
    "No API key found in request",
    null,
    "No `apikey` request header or url param was found.",
    { "www-authenticate": "Bearer" },
  );
}

/** 401 for an `Authorization: Bearer` header without a token. */
export function emptyJwt(): ApiError {
  const message = "Empty JWT is sent in Authorization header";
  return new ApiError(401, "PGRST301", message, null, null, {
    "www-authenticate":
      `Bearer error="invalid_token", error_description="${message}"`,
  });
}

/** 413 for a body over the limit; same code and text as the SQL check raises. */
export function payloadTooLarge(limit: number): ApiError {
  const detail = limit === 16384
    ? MAX_BODY_DETAIL
    : `The request body is larger than ${limit} bytes.`;
  return new ApiError(
    413,
    "PT413",
    "payload_too_large",
    detail,
    "Send only the documented fields.",
  );
}

/** 400 for a `Content-Length` that is not a number. */
export function invalidContentLength(): ApiError {
  return new ApiError(400, "PGRST102", "Invalid Content-Length header");
}

/** 400 for a body that is not UTF-8 JSON (PostgREST's PGRST102). */
export function invalidJson(): ApiError {
  return new ApiError(400, "PGRST102", "Empty or invalid json");
}

/** 405 for anything but POST (and the OPTIONS preflight). */
export function methodNotAllowed(method: string): ApiError {
  return new ApiError(
    405,
    "PGRST117",
    `Unsupported HTTP method: ${method}`,
    null,
    null,
    {
      allow: "POST, OPTIONS",
    },
  );
}

/** 503 when the API (and so the database) cannot be reached. */
export function connectionError(): ApiError {
  return new ApiError(
    503,
    "PGRST000",
    "Database connection error. Retrying the connection.",
  );
}

/** 500 for anything unexpected; the cause is logged, never sent. */
export function internalError(): ApiError {
  return new ApiError(500, "PGRSTX00", "Internal server error");
}

/** The error as a response (CORS headers are added by the caller). */
export function errorResponse(error: ApiError): Response {
  return new Response(JSON.stringify(error.body()), {
    status: error.status,
    headers: error.responseHeaders(),
  });
}
