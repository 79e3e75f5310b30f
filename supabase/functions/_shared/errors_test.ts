import { deepStrictEqual, strictEqual } from "node:assert/strict";
import contract from "./contract.schema.json" with { type: "json" };
import {
  ApiError,
  CONFLICT_ERROR,
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
} from "./errors.ts";

Deno.test("the conflict marker is the contract's", () => {
  strictEqual(CONFLICT_ERROR, "Account conflict");
  strictEqual(CONFLICT_ERROR, contract.$defs.Conflict.properties.error.const);
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

Deno.test("fromFields keeps the API's status and PostgREST's body", () => {
  const error = fromFields(
    "PT429",
    "rate_limited",
    "Too many requests: at most 20 per minute.",
    "Retry after 12 seconds.",
    429,
  );
  strictEqual(error.status, 429);
  deepStrictEqual(error.body(), {
    code: "PT429",
    details: "Too many requests: at most 20 per minute.",
    hint: "Retry after 12 seconds.",
    message: "rate_limited",
  });
  strictEqual(fromFields("42501", "forbidden", null, null, 403).status, 403);
  strictEqual(fromFields("42501", "x", null, null, 418).status, 418);
});

Deno.test("fromFields: missing fields and non-string details", () => {
  const error = fromFields(undefined, undefined, { a: 1 }, 5, 500);
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
      400,
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
