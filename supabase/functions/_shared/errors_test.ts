import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  ApiError,
  connectionError,
  emptyJwt,
  errorResponse,
  fromFields,
  functionStatus,
  internalError,
  invalidJson,
  isConflict,
  methodNotAllowed,
  missingApiKey,
  payloadTooLarge,
  PGRST_STATUS,
  retryAfterSeconds,
  SQLSTATE_CLASS_STATUS,
  SQLSTATE_STATUS,
  statusForCode,
  statusForSqlstate,
} from "./errors.ts";

Deno.test("the kit's own codes", () => {
  strictEqual(statusForSqlstate("P0001", "service_role"), 400); // validation codes
  strictEqual(statusForSqlstate("PT413", "authenticated"), 413); // payload_too_large
  strictEqual(statusForSqlstate("PT429", "authenticated"), 429); // rate_limited
  strictEqual(statusForSqlstate("PT503", "service_role"), 503); // try_again
  strictEqual(statusForSqlstate("22P05", "service_role"), 400); // NUL in the body
});

Deno.test("42501 is 401 for anon and 403 for everyone else", () => {
  strictEqual(statusForSqlstate("42501", "anon"), 401);
  strictEqual(statusForSqlstate("42501", "authenticated"), 403);
  strictEqual(statusForSqlstate("42501", "service_role"), 403);
});

Deno.test("PTxyz is xyz when it is an HTTP status, else 500", () => {
  strictEqual(statusForSqlstate("PT100", "anon"), 100);
  strictEqual(statusForSqlstate("PT599", "anon"), 599);
  strictEqual(statusForSqlstate("PT600", "anon"), 500);
  strictEqual(statusForSqlstate("PT099", "anon"), 500);
  strictEqual(statusForSqlstate("PTABC", "anon"), 500);
});

Deno.test("every exact SQLSTATE of the table", () => {
  for (const [sqlstate, status] of Object.entries(SQLSTATE_STATUS)) {
    strictEqual(statusForSqlstate(sqlstate, "service_role"), status, sqlstate);
  }
  strictEqual(statusForSqlstate("23505", "service_role"), 409);
  strictEqual(statusForSqlstate("42883", "service_role"), 404);
});

Deno.test("every SQLSTATE class of the table, and 400 for the rest", () => {
  for (const [sqlClass, status] of Object.entries(SQLSTATE_CLASS_STATUS)) {
    strictEqual(
      statusForSqlstate(`${sqlClass}000`, "service_role"),
      status,
      sqlClass,
    );
  }
  strictEqual(statusForSqlstate("08006", "service_role"), 503);
  strictEqual(statusForSqlstate("40001", "service_role"), 500);
  strictEqual(statusForSqlstate("57014", "service_role"), 500); // statement timeout
  strictEqual(statusForSqlstate("P0002", "service_role"), 500); // not P0001: class P0
  for (
    const sqlstate of ["22023", "22P02", "23502", "23514", "42P02", "0A000"]
  ) {
    strictEqual(statusForSqlstate(sqlstate, "service_role"), 400, sqlstate);
  }
});

Deno.test("message-dependent SQLSTATEs", () => {
  strictEqual(
    statusForSqlstate("21000", "anon", "UPDATE requires a WHERE clause"),
    400,
  );
  strictEqual(statusForSqlstate("21000", "anon", "more than one row"), 500);
  strictEqual(
    statusForSqlstate("22023", "anon", 'role "admin" does not exist'),
    401,
  );
  strictEqual(statusForSqlstate("22023", "anon", "invalid parameter"), 400);
});

Deno.test("PGRST codes, bare statuses and missing codes", () => {
  for (const [code, status] of Object.entries(PGRST_STATUS)) {
    strictEqual(statusForCode(code, "anon"), status, code);
  }
  strictEqual(statusForCode("PGRST999", "anon"), 500);
  strictEqual(statusForCode("502", "anon"), 502);
  strictEqual(statusForCode("", "anon"), 500);
  strictEqual(statusForCode(null, "anon"), 500);
  strictEqual(statusForCode(undefined, "anon"), 500);
  strictEqual(statusForCode("42501", "anon"), 401);
  strictEqual(statusForCode("P0001", "anon"), 400);
  strictEqual(statusForCode("constructor", "anon"), 400); // no prototype lookups
});

Deno.test("conflict shape is 409, anything else 200", () => {
  const conflict = {
    error: "Account conflict",
    conflicts: { found: true, accounts: [] },
    message: "Multiple accounts found. Please choose how to proceed.",
  };
  strictEqual(isConflict(conflict), true);
  strictEqual(functionStatus(conflict), 409);
  strictEqual(functionStatus({ customer: { id: "x" } }), 200);
  strictEqual(functionStatus({ error: "Account conflict" }), 200);
  strictEqual(
    functionStatus({ error: "Account conflict", conflicts: [] }),
    200,
  );
  strictEqual(functionStatus({ error: "Other", conflicts: {} }), 200);
  strictEqual(functionStatus(null), 200);
  strictEqual(functionStatus([conflict]), 200);
  strictEqual(functionStatus("Account conflict"), 200);
});

Deno.test("Retry-After seconds from the rate_limited hint", () => {
  strictEqual(retryAfterSeconds("Retry after 42 seconds."), 42);
  strictEqual(retryAfterSeconds("Retry after 1 second."), 1);
  strictEqual(retryAfterSeconds("retry AFTER 7 SECONDS"), 7);
  strictEqual(retryAfterSeconds("Send only the documented fields."), null);
  strictEqual(retryAfterSeconds(null), null);
  strictEqual(retryAfterSeconds(""), null);
});

Deno.test("fromFields: rate limited gets Retry-After", () => {
  const error = fromFields(
    "PT429",
    "rate_limited",
    "Too many requests: at most 20 per minute.",
    "Retry after 12 seconds.",
    "authenticated",
  );
  strictEqual(error.status, 429);
  strictEqual(error.headers["retry-after"], "12");
  deepStrictEqual(error.body(), {
    code: "PT429",
    details: "Too many requests: at most 20 per minute.",
    hint: "Retry after 12 seconds.",
    message: "rate_limited",
  });
});

Deno.test("fromFields: 401 gets WWW-Authenticate, the given status wins", () => {
  const denied = fromFields("42501", "not_authenticated", null, null, "anon");
  strictEqual(denied.status, 401);
  strictEqual(denied.headers["www-authenticate"], "Bearer");
  const forbidden = fromFields(
    "42501",
    "forbidden",
    null,
    null,
    "authenticated",
  );
  strictEqual(forbidden.status, 403);
  strictEqual(forbidden.headers["www-authenticate"], undefined);
  strictEqual(fromFields("42501", "x", null, null, "anon", 418).status, 418);
});

Deno.test("fromFields: missing fields and non-string details", () => {
  const error = fromFields(undefined, undefined, { a: 1 }, 5, "anon");
  strictEqual(error.status, 500);
  deepStrictEqual(error.body(), {
    code: "PGRSTX00",
    details: '{"a":1}',
    hint: "5",
    message: "",
  });
});

Deno.test("the fixed errors: statuses, codes and bodies", () => {
  const cases: [ApiError, number, string, string][] = [
    [missingApiKey(), 401, "PGRST302", "No API key found in request"],
    [emptyJwt(), 401, "PGRST301", "Empty JWT is sent in Authorization header"],
    [payloadTooLarge(16384), 413, "PT413", "payload_too_large"],
    [invalidJson(), 400, "PGRST102", "Empty or invalid json"],
    [methodNotAllowed("GET"), 405, "PGRST117", "Unsupported HTTP method: GET"],
    [
      connectionError(),
      503,
      "PGRST000",
      "Database connection error. Retrying the connection.",
    ],
    [internalError(), 500, "PGRSTX00", "Internal server error"],
  ];
  for (const [error, status, code, message] of cases) {
    strictEqual(error.status, status, code);
    strictEqual(statusForCode(code, "anon"), status, code);
    deepStrictEqual(Object.keys(error.body()), [
      "code",
      "details",
      "hint",
      "message",
    ]);
    strictEqual(error.body().code, code);
    strictEqual(error.body().message, message);
  }
  deepStrictEqual(payloadTooLarge(16384).body(), {
    code: "PT413",
    details: "The request body is larger than 16 KB.",
    hint: "Send only the documented fields.",
    message: "payload_too_large",
  });
  strictEqual(
    payloadTooLarge(100).details,
    "The request body is larger than 100 bytes.",
  );
  strictEqual(methodNotAllowed("PUT").headers.allow, "POST, OPTIONS");
});

Deno.test("errorResponse: JSON body, content type and Proxy-Status", async () => {
  const response = errorResponse(
    fromFields(
      "P0001",
      "invalid_phone",
      "Not a phone number.",
      null,
      "service_role",
    ),
  );
  strictEqual(response.status, 400);
  strictEqual(
    response.headers.get("content-type"),
    "application/json; charset=utf-8",
  );
  strictEqual(response.headers.get("proxy-status"), "PostgREST; error=P0001");
  strictEqual(
    await response.text(),
    '{"code":"P0001","details":"Not a phone number.","hint":null,"message":"invalid_phone"}',
  );
});
