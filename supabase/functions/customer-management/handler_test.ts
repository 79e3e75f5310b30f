import { deepStrictEqual, strictEqual } from "node:assert/strict";
import type { Conflict, Success } from "../_shared/contract.ts";
import { createHandler, type RpcCaller, type RpcOutcome } from "./handler.ts";

const CUSTOMER_ID = "00000000-0000-4000-8000-000000000001";

const CONFLICT: Conflict = {
  error: "Account conflict",
  conflicts: {
    found: true,
    accounts: [
      { id: CUSTOMER_ID, email: "c@gmail.com", source: "webapp" },
      { id: "00000000-0000-4000-8000-000000000002", source: "chatbot" },
    ],
    suggestedActions: ["Contact customer support"],
  },
  message: "Multiple accounts found. Please choose how to proceed.",
  conflictId: "00000000-0000-4000-8000-0000000000cc",
};

const WELCOME_BACK: Success = {
  customer: {
    id: CUSTOMER_ID,
    name: "John Smith",
    phone: "+15551234567",
    email: null,
    allergies: [],
    isNewAccount: false,
    accountSources: ["chatbot"],
    _internalId: CUSTOMER_ID,
  },
  orderHistory: [],
  summary: "Welcome back John!",
};

interface Call {
  body: unknown;
  token: string;
  requester?: string;
}

/** A handler whose RPC answers `outcome` (or throws it) and records its calls. */
function setup(outcome: RpcOutcome | Error) {
  const calls: Call[] = [];
  const logs: string[] = [];
  const errors: unknown[] = [];
  const callRpc: RpcCaller = (body, token, requester) => {
    calls.push(
      requester === null ? { body, token } : { body, token, requester },
    );
    return outcome instanceof Error
      ? Promise.reject(outcome)
      : Promise.resolve(outcome);
  };
  const handle = createHandler(callRpc, {
    log: (line) => logs.push(line),
    logError: (_message, error) => errors.push(error),
  });
  return { handle, calls, logs, errors };
}

function post(
  body: BodyInit | null,
  headers: Record<string, string> = {},
): Request {
  return new Request("http://localhost/customer-management", {
    method: "POST",
    body,
    headers: { authorization: "Bearer caller.token.sig", ...headers },
  });
}

function assertCors(response: Response) {
  strictEqual(response.headers.get("access-control-allow-origin"), "*");
}

const found: RpcOutcome = {
  data: WELCOME_BACK,
  error: null,
  status: 200,
};

Deno.test("a backend's X-Customer-Requester is passed on with the call", async () => {
  const { handle, calls } = setup(found);
  const response = await handle(
    post('{"email":"w@example.com","source":"webapp"}', {
      "x-customer-requester": "session-42",
    }),
  );
  strictEqual(response.status, 200);
  deepStrictEqual(calls, [{
    body: { email: "w@example.com", source: "webapp" },
    token: "caller.token.sig",
    requester: "session-42",
  }]);
});

Deno.test("found or created: 200 with the RPC's JSON; body and token passed on", async () => {
  const { handle, calls, logs } = setup(found);
  const response = await handle(
    post('{"phone":"555-123-4567","source":"chatbot"}'),
  );
  strictEqual(response.status, 200);
  assertCors(response);
  strictEqual(
    response.headers.get("content-type"),
    "application/json; charset=utf-8",
  );
  deepStrictEqual(await response.json(), found.data);
  deepStrictEqual(calls, [{
    body: { phone: "555-123-4567", source: "chatbot" },
    token: "caller.token.sig",
  }]);
  strictEqual(logs.length, 1);
  const line = JSON.parse(logs[0]);
  strictEqual(line.status, 200);
  strictEqual(line.method, "POST");
  strictEqual(logs[0].includes("555"), false); // never the body
  strictEqual(logs[0].includes("caller.token"), false); // never the token
});

Deno.test("conflict: 409 with the conflict body", async () => {
  const { handle } = setup({ data: CONFLICT, error: null, status: 200 });
  const response = await handle(
    post('{"phone":"1","email":"c@gmail.com","source":"chatbot"}'),
  );
  strictEqual(response.status, 409);
  assertCors(response);
  deepStrictEqual(await response.json(), CONFLICT);
});

Deno.test("an empty body is {} and an apikey alone is the token", async () => {
  const { handle, calls } = setup(found);
  const request = new Request("http://localhost/", {
    method: "POST",
    headers: { apikey: "anon.key.sig" },
  });
  strictEqual((await handle(request)).status, 200);
  deepStrictEqual(calls, [{ body: {}, token: "anon.key.sig" }]);
});

Deno.test("RPC errors keep the API's status and PostgREST's body", async () => {
  const body = {
    code: "P0001",
    message: "invalid_phone",
    details: "Not a phone number.",
    hint: "Send E.164.",
  };
  const { handle } = setup({ data: null, error: body, status: 400 });
  const response = await handle(post("{}"));
  strictEqual(response.status, 400);
  assertCors(response);
  strictEqual(response.headers.get("proxy-status"), "PostgREST; error=P0001");
  deepStrictEqual(await response.json(), {
    code: "P0001",
    details: "Not a phone number.",
    hint: "Send E.164.",
    message: "invalid_phone",
  });
});

Deno.test("rate limited: 429 with the API's Retry-After", async () => {
  const { handle } = setup({
    data: null,
    error: {
      code: "PT429",
      message: "rate_limited",
      details: "Too many requests: at most 20 per minute.",
      hint: "Retry after 17 seconds.",
    },
    status: 429,
    headers: new Headers({ "retry-after": "17" }),
  });
  const response = await handle(post("{}"));
  strictEqual(response.status, 429);
  strictEqual(response.headers.get("retry-after"), "17");
  strictEqual(
    response.headers.get("access-control-expose-headers")?.includes(
      "retry-after",
    ),
    true,
  );
  strictEqual((await response.json()).message, "rate_limited");
});

Deno.test("the API's WWW-Authenticate and Retry-After are passed on", async () => {
  const described =
    'Bearer error="invalid_token", error_description="JWT expired"';
  const { handle } = setup({
    data: null,
    error: {
      code: "PGRST303",
      message: "JWT expired",
      details: null,
      hint: null,
    },
    status: 401,
    headers: new Headers({ "www-authenticate": described, "x-other": "no" }),
  });
  const response = await handle(post("{}"));
  strictEqual(response.status, 401);
  strictEqual(response.headers.get("www-authenticate"), described);
  strictEqual(response.headers.get("x-other"), null);
});

Deno.test("no answer from the API: 503 PGRST000", async () => {
  const { handle } = setup({
    data: null,
    error: {
      message: "TypeError: fetch failed",
      details: "stack...",
      hint: "",
      code: "",
    },
    status: 0,
  });
  const response = await handle(post("{}"));
  strictEqual(response.status, 503);
  assertCors(response);
  const body = await response.json();
  strictEqual(body.code, "PGRST000");
  strictEqual(JSON.stringify(body).includes("stack"), false);
});

Deno.test("anything unexpected: a bare 500, logged, never echoed", async () => {
  const { handle, errors } = setup(new Error("SUPABASE_URL is not set"));
  const response = await handle(post("{}"));
  strictEqual(response.status, 500);
  assertCors(response);
  deepStrictEqual(await response.json(), {
    code: "PGRSTX00",
    details: null,
    hint: null,
    message: "Internal server error",
  });
  strictEqual(errors.length, 1);
});

Deno.test("a 2xx answer that is not JSON: 500, body not echoed", async () => {
  const { handle } = setup({
    data: null,
    error: { message: "<html>" },
    status: 200,
  });
  const response = await handle(post("{}"));
  strictEqual(response.status, 500);
  strictEqual((await response.json()).code, "PGRSTX00");
});

Deno.test("a void answer is 200 null", async () => {
  const { handle } = setup({ data: null, error: null, status: 204 });
  const response = await handle(post("{}"));
  strictEqual(response.status, 200);
  strictEqual(await response.text(), "null");
});

Deno.test("preflight: 200 ok, RPC not called", async () => {
  const { handle, calls } = setup(found);
  const response = await handle(
    new Request("http://localhost/", { method: "OPTIONS" }),
  );
  strictEqual(response.status, 200);
  strictEqual(await response.text(), "ok");
  strictEqual(calls.length, 0);
});

Deno.test("other methods: 405 PGRST117, RPC not called", async () => {
  const { handle, calls } = setup(found);
  for (const method of ["GET", "PUT", "PATCH", "DELETE"]) {
    const response = await handle(new Request("http://localhost/", { method }));
    strictEqual(response.status, 405);
    assertCors(response);
    strictEqual(response.headers.get("allow"), "POST, OPTIONS");
    strictEqual(
      (await response.json()).message,
      `Unsupported HTTP method: ${method}`,
    );
  }
  strictEqual(calls.length, 0);
});

Deno.test("bodies over 16 KB: 413, RPC not called", async () => {
  const { handle, calls } = setup(found);
  const declared = await handle(post("x".repeat(16385)));
  strictEqual(declared.status, 413);
  assertCors(declared);
  strictEqual((await declared.json()).message, "payload_too_large");
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new Uint8Array(9000).fill(32));
      controller.enqueue(new Uint8Array(9000).fill(32));
      controller.close();
    },
  });
  const chunked = await handle(post(stream));
  strictEqual(chunked.status, 413);
  strictEqual(calls.length, 0);
  const atLimit = await handle(post(" ".repeat(16382) + "{}"));
  strictEqual(atLimit.status, 200);
});

Deno.test("invalid JSON: 400 PGRST102, RPC not called", async () => {
  const { handle, calls } = setup(found);
  const response = await handle(post("{nope"));
  strictEqual(response.status, 400);
  deepStrictEqual(await response.json(), {
    code: "PGRST102",
    details: null,
    hint: null,
    message: "Empty or invalid json",
  });
  strictEqual(calls.length, 0);
});

Deno.test("no token at all: 401 PGRST302, RPC not called", async () => {
  const { handle, calls } = setup(found);
  const response = await handle(
    new Request("http://localhost/", { method: "POST", body: "{}" }),
  );
  strictEqual(response.status, 401);
  strictEqual(response.headers.get("www-authenticate"), "Bearer");
  strictEqual((await response.json()).code, "PGRST302");
  strictEqual(calls.length, 0);
});
