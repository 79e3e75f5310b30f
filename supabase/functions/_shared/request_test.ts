import {
  deepStrictEqual,
  rejects,
  strictEqual,
  throws,
} from "node:assert/strict";
import { ApiError } from "./errors.ts";
import {
  bearerToken,
  callerToken,
  checkDeclaredLength,
  MAX_BODY_BYTES,
  parseJson,
  readJson,
  readLimited,
} from "./request.ts";

const encoder = new TextEncoder();

function apiError(status: number, code: string) {
  return (error: unknown) =>
    error instanceof ApiError && error.status === status && error.code === code;
}

/** A request whose body arrives in chunks, without a Content-Length. */
function streamed(chunks: Uint8Array[]): Request {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) {
        controller.enqueue(chunk);
      }
      controller.close();
    },
  });
  return new Request("http://localhost/", { method: "POST", body });
}

Deno.test("the limit is 16 KB", () => {
  strictEqual(MAX_BODY_BYTES, 16384);
});

Deno.test("declared Content-Length: over the limit 413, not a number 400", () => {
  checkDeclaredLength(new Headers());
  checkDeclaredLength(new Headers({ "content-length": "16384" }));
  throws(
    () => checkDeclaredLength(new Headers({ "content-length": "16385" })),
    apiError(413, "PT413"),
  );
  throws(
    () => checkDeclaredLength(new Headers({ "content-length": "abc" })),
    apiError(400, "PGRST102"),
  );
});

Deno.test("actual bytes: a body at the limit is read whole", async () => {
  const body = await readLimited(
    streamed([new Uint8Array(10000), new Uint8Array(6384)]),
  );
  strictEqual(body.byteLength, 16384);
});

Deno.test("actual bytes: a streamed body over the limit is 413", async () => {
  await rejects(
    readLimited(streamed([new Uint8Array(10000), new Uint8Array(6385)])),
    apiError(413, "PT413"),
  );
  await rejects(
    readLimited(streamed([new Uint8Array(11)]), 10),
    apiError(413, "PT413"),
  );
});

Deno.test("no body is an empty body", async () => {
  const body = await readLimited(
    new Request("http://localhost/", { method: "POST" }),
  );
  strictEqual(body.byteLength, 0);
});

Deno.test("JSON: objects, other values, empty and BOM", () => {
  deepStrictEqual(parseJson(encoder.encode('{"phone":"555"}')), {
    phone: "555",
  });
  deepStrictEqual(parseJson(encoder.encode("[1]")), [1]);
  strictEqual(parseJson(encoder.encode('"text"')), "text");
  strictEqual(parseJson(encoder.encode("null")), null);
  deepStrictEqual(parseJson(new Uint8Array(0)), {});
  deepStrictEqual(parseJson(encoder.encode(" \n\t ")), {});
  deepStrictEqual(parseJson(encoder.encode('\ufeff{"a":1}')), { a: 1 });
  strictEqual(parseJson(encoder.encode('"\\u0000"')), "\u0000");
});

Deno.test("JSON: invalid text or invalid UTF-8 is 400 PGRST102", () => {
  for (
    const raw of [
      encoder.encode("{not json"),
      encoder.encode('{"a":1,}'),
      encoder.encode("NaN"),
      encoder.encode("{'a': 1}"),
      new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]),
    ]
  ) {
    throws(() => parseJson(raw), apiError(400, "PGRST102"));
  }
});

Deno.test("readJson reads and parses", async () => {
  const request = new Request("http://localhost/", {
    method: "POST",
    body: '{"source":"chatbot"}',
  });
  deepStrictEqual(await readJson(request), { source: "chatbot" });
});

Deno.test("bearer tokens", () => {
  strictEqual(bearerToken(null), null);
  strictEqual(bearerToken("Bearer abc.def.ghi"), "abc.def.ghi");
  strictEqual(bearerToken("bearer  abc "), "abc");
  strictEqual(bearerToken("Bearer"), "");
  strictEqual(bearerToken("Basic dXNlcjpwYXNz"), null);
});

Deno.test("caller token: bearer, else apikey header or parameter, else 401", () => {
  const request = (
    headers: Record<string, string>,
    url = "http://localhost/",
  ) => new Request(url, { method: "POST", headers });
  strictEqual(
    callerToken(request({ authorization: "Bearer t1", apikey: "k" })),
    "t1",
  );
  strictEqual(callerToken(request({ apikey: "k" })), "k");
  strictEqual(
    callerToken(request({ authorization: "Basic x", apikey: "k" })),
    "k",
  );
  strictEqual(callerToken(request({}, "http://localhost/?apikey=q")), "q");
  throws(() => callerToken(request({})), apiError(401, "PGRST302"));
  throws(
    () => callerToken(request({ authorization: "Basic x" })),
    apiError(401, "PGRST302"),
  );
  throws(
    () => callerToken(request({ authorization: "Bearer" })),
    apiError(401, "PGRST301"),
  );
});
