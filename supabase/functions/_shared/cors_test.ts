import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  allowedHeaders,
  CORS_ALLOW_HEADERS,
  CORS_EXPOSE_HEADERS,
  isHeaderName,
  preflightResponse,
  withCors,
} from "./cors.ts";

Deno.test("preflight: 200 ok with allow headers, methods and max age", async () => {
  const response = preflightResponse(
    new Request("http://localhost/customer-management", { method: "OPTIONS" }),
  );
  strictEqual(response.status, 200);
  strictEqual(await response.text(), "ok");
  strictEqual(response.headers.get("access-control-allow-origin"), "*");
  strictEqual(
    response.headers.get("access-control-allow-headers"),
    "authorization, x-client-info, apikey, content-type",
  );
  strictEqual(
    response.headers.get("access-control-allow-methods"),
    "GET, POST, OPTIONS",
  );
  strictEqual(response.headers.get("access-control-max-age"), "86400");
});

Deno.test("preflight: requested headers are added once, lower-cased", () => {
  const response = preflightResponse(
    new Request("http://localhost/", {
      method: "OPTIONS",
      headers: {
        "access-control-request-headers":
          "Authorization, Prefer, x-custom-thing",
      },
    }),
  );
  strictEqual(
    response.headers.get("access-control-allow-headers"),
    "authorization, x-client-info, apikey, content-type, prefer, x-custom-thing",
  );
});

Deno.test("preflight: odd header names are not reflected", () => {
  deepStrictEqual(
    allowedHeaders("x-ok, bad header, semi;colon, , " + "a".repeat(65)),
    [
      ...CORS_ALLOW_HEADERS,
      "x-ok",
    ],
  );
  strictEqual(isHeaderName("content-profile"), true);
  strictEqual(isHeaderName("x y"), false);
  strictEqual(isHeaderName(""), false);
});

Deno.test("withCors adds origin and exposed headers and keeps the others", () => {
  const headers = withCors({
    "content-type": "application/json",
    "retry-after": "3",
  });
  strictEqual(headers.get("access-control-allow-origin"), "*");
  strictEqual(
    headers.get("access-control-expose-headers"),
    CORS_EXPOSE_HEADERS,
  );
  strictEqual(headers.get("content-type"), "application/json");
  strictEqual(headers.get("retry-after"), "3");
});
