/**
 * Which HTTP status an answer gets, and PostgREST's error body.
 *
 * This mirrors `python_client/customer_management/proxy/statuses.py` (the table every HTTP
 * layer of the kit shares) and the error builders of `proxy/errors.py`: change one, change
 * the other; `errors_test.ts` and the end-to-end tests hold them together. The rules, in
 * the order they apply:
 *
 * - A normal return of `customer_management` is 200, except the conflict shape
 *   (`{"error": "Account conflict", "conflicts": {...}}`): 409 with the same body.
 * - `PTxyz` (the kit's `PT413`, `PT429`, `PT503`) is HTTP `xyz`; a 429 also gets
 *   `Retry-After: N` from the hint `"Retry after N seconds."`.
 * - `42501` is 401 for the `anon` role and 403 otherwise.
 * - `P0001` (every validation code) is 400, and so is any SQLSTATE the table does not name.
 * - PostgREST's own `PGRSTxxx` codes have the statuses of `PGRST_STATUS`.
 *
 * The body is always `{"code", "details", "hint", "message"}`; nothing else (no stack, no
 * SQL) ever leaves the function.
 */

export const CONFLICT_STATUS = 409;
export const ANON_ROLE = "anon";
export const JSON_CONTENT_TYPE = "application/json; charset=utf-8";
export const MAX_BODY_DETAIL = "The request body is larger than 16 KB.";

/** Exact SQLSTATEs (PostgREST's `mapSQLtoHTTP`). */
export const SQLSTATE_STATUS: Readonly<Record<string, number>> = {
  "23503": 409, // foreign_key_violation
  "23505": 409, // unique_violation
  "25006": 405, // read_only_sql_transaction
  "53400": 500, // configuration_limit_exceeded
  "57P01": 503, // admin_shutdown
  "P0001": 400, // raise_exception: the kit's validation errors
  "42883": 404, // undefined_function
  "42P01": 404, // undefined_table
  "42P17": 500, // infinite recursion (policies)
};

/** Two-character SQLSTATE classes; anything else is 400. */
export const SQLSTATE_CLASS_STATUS: Readonly<Record<string, number>> = {
  "08": 503, // connection exception
  "09": 500, // triggered action exception
  "0L": 403, // invalid grantor
  "0P": 403, // invalid role specification
  "25": 500, // invalid transaction state
  "28": 403, // invalid authorization specification
  "2D": 500, // invalid transaction termination
  "38": 500, // external routine exception
  "39": 500, // external routine invocation exception
  "3B": 500, // savepoint exception
  "40": 500, // transaction rollback
  "53": 503, // insufficient resources
  "54": 500, // program limit exceeded
  "55": 500, // object not in prerequisite state
  "57": 500, // operator intervention
  "58": 500, // system error
  "F0": 500, // configuration file error
  "HV": 500, // foreign data wrapper error
  "P0": 500, // other PL/pgSQL errors
  "XX": 500, // internal error
};

/** PostgREST's codes for errors raised before SQL runs. */
export const PGRST_STATUS: Readonly<Record<string, number>> = {
  PGRST000: 503, // database connection error
  PGRST001: 503, // database client error
  PGRST002: 503, // schema cache could not be loaded
  PGRST003: 504, // timed out waiting for a pool connection
  PGRST100: 400,
  PGRST101: 405, // method not allowed on RPC
  PGRST102: 400, // empty or invalid JSON body
  PGRST106: 406, // schema not exposed
  PGRST107: 415,
  PGRST117: 405, // unsupported HTTP method
  PGRST125: 404, // invalid path
  PGRST202: 404, // function not found
  PGRST203: 300, // ambiguous overloaded function
  PGRST300: 500, // server lacks a JWT secret
  PGRST301: 401, // JWT could not be decoded / verified, or bad API key
  PGRST302: 401, // no credentials at all
  PGRST303: 401, // JWT claims invalid: expired, not yet valid, role not allowed
  PGRSTX00: 500, // internal error
};

function own(
  table: Readonly<Record<string, number>>,
  key: string,
): number | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** PostgREST's HTTP status for a database error raised while `role` acted. */
export function statusForSqlstate(
  sqlstate: string,
  role: string,
  message = "",
): number {
  if (sqlstate === "42501") {
    return role === ANON_ROLE ? 401 : 403;
  }
  if (sqlstate.startsWith("PT")) {
    const digits = sqlstate.slice(2);
    const value = Number(digits);
    return /^[0-9]+$/.test(digits) && value >= 100 && value <= 599
      ? value
      : 500;
  }
  if (sqlstate === "21000") {
    return message.endsWith("requires a WHERE clause") ? 400 : 500;
  }
  if (
    sqlstate === "22023" && message.startsWith("role") &&
    message.endsWith("does not exist")
  ) {
    return 401;
  }
  return own(SQLSTATE_STATUS, sqlstate) ??
    own(SQLSTATE_CLASS_STATUS, sqlstate.slice(0, 2)) ?? 400;
}

/**
 * The HTTP status for any error `code` of a PostgREST body: a SQLSTATE, a `PGRST` code, or
 * a bare three-digit status. Missing or unknown `PGRST` codes are 500.
 */
export function statusForCode(
  code: string | null | undefined,
  role: string,
  message = "",
): number {
  if (!code) {
    return 500;
  }
  const known = own(PGRST_STATUS, code);
  if (known !== undefined) {
    return known;
  }
  if (code.startsWith("PGRST")) {
    return 500;
  }
  if (/^[0-9]{3}$/.test(code)) {
    return Number(code);
  }
  return statusForSqlstate(code, role, message);
}

/** Whether a `customer_management` result is the conflict shape (HTTP 409). */
export function isConflict(result: unknown): boolean {
  if (typeof result !== "object" || result === null || Array.isArray(result)) {
    return false;
  }
  const record = result as Record<string, unknown>;
  const conflicts = record.conflicts;
  return record.error === "Account conflict" && typeof conflicts === "object" &&
    conflicts !== null && !Array.isArray(conflicts);
}

/** Status of a normal return on `/functions/v1/customer-management`: 409 or 200. */
export function functionStatus(result: unknown): number {
  return isConflict(result) ? CONFLICT_STATUS : 200;
}

/** Seconds to wait from a `rate_limited` hint such as `"Retry after 42 seconds."`. */
export function retryAfterSeconds(
  hint: string | null | undefined,
): number | null {
  if (!hint) {
    return null;
  }
  const match = /(\d+)\s*second/i.exec(hint);
  return match ? Number(match[1]) : null;
}

/** PostgREST's error body, keys in its (alphabetical) order. */
export interface ErrorBody {
  code: string;
  details: string | null;
  hint: string | null;
  message: string;
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

/** `Retry-After` on 429, `WWW-Authenticate` on 401 (as PostgREST sends it). */
function addStatusHeaders(error: ApiError): ApiError {
  if (error.status === 429) {
    const seconds = retryAfterSeconds(error.hint);
    if (seconds !== null) {
      error.headers["retry-after"] = String(seconds);
    }
  } else if (error.status === 401 && !("www-authenticate" in error.headers)) {
    error.headers["www-authenticate"] = "Bearer";
  }
  return error;
}

/** An error from PostgREST body fields; `status` is derived from the code when unknown. */
export function fromFields(
  code: unknown,
  message: unknown,
  details: unknown,
  hint: unknown,
  role: string,
  status: number | null = null,
): ApiError {
  const errorCode = typeof code === "string" && code ? code : "PGRSTX00";
  const errorMessage = typeof message === "string" ? message : "";
  const errorStatus = status ?? statusForCode(errorCode, role, errorMessage);
  return addStatusHeaders(
    new ApiError(
      errorStatus,
      errorCode,
      errorMessage,
      text(details),
      text(hint),
    ),
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
