/**
 * Reading a request safely before anything is sent on: method, size limit, JSON, caller.
 *
 * The body limit is enforced twice, as the kit's proxy does: on `Content-Length` (rejected
 * without reading) and on the bytes actually received (a chunked or lying client is cut
 * off at the limit), so at most `limit` bytes are ever buffered.
 */

import {
  emptyJwt,
  invalidContentLength,
  invalidJson,
  missingApiKey,
  payloadTooLarge,
} from "./errors.ts";

/** The largest body the kit accepts (the RPC checks the same limit in SQL). */
export const MAX_BODY_BYTES = 16 * 1024;

/** Reject a declared `Content-Length` over `limit` (413) or not a number (400). */
export function checkDeclaredLength(
  headers: Headers,
  limit = MAX_BODY_BYTES,
): void {
  const declared = headers.get("content-length");
  if (declared === null) {
    return;
  }
  const trimmed = declared.trim();
  if (!/^[+-]?[0-9]+$/.test(trimmed)) {
    throw invalidContentLength();
  }
  if (Number(trimmed) > limit) {
    throw payloadTooLarge(limit);
  }
}

/** Read at most `limit` bytes of body; 413 as soon as more arrive. */
export async function readLimited(
  request: Request,
  limit = MAX_BODY_BYTES,
): Promise<Uint8Array> {
  checkDeclaredLength(request.headers, limit);
  if (request.body === null) {
    return new Uint8Array(0);
  }
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw payloadTooLarge(limit);
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** Decode and parse a body; an empty body is `{}` (PostgREST's RPC rule). */
export function parseJson(raw: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      raw,
    );
  } catch {
    throw invalidJson();
  }
  if (text.startsWith("\ufeff")) {
    text = text.slice(1);
  }
  if (text.trim() === "") {
    return {};
  }
  try {
    return JSON.parse(text);
  } catch {
    throw invalidJson();
  }
}

/** The request body, size-checked and parsed. */
export async function readJson(
  request: Request,
  limit = MAX_BODY_BYTES,
): Promise<unknown> {
  return parseJson(await readLimited(request, limit));
}

/** The token of an `Authorization: Bearer` header; other schemes count as absent. */
export function bearerToken(authorization: string | null): string | null {
  if (authorization === null) {
    return null;
  }
  const value = authorization.trim();
  const space = value.indexOf(" ");
  const scheme = space === -1 ? value : value.slice(0, space);
  if (scheme.toLowerCase() !== "bearer") {
    return null;
  }
  return space === -1 ? "" : value.slice(space + 1).trim();
}

/**
 * The caller's token: the bearer token, else the `apikey` (header or `?apikey=`), which
 * is itself a JWT, as Supabase treats anonymous requests. Neither: 401, like the gateway;
 * an empty bearer token: 401 as PostgREST answers it. The token is not verified here:
 * the API (PostgREST, or the kit's proxy) verifies it on the RPC call.
 */
export function callerToken(request: Request): string {
  let token = bearerToken(request.headers.get("authorization"));
  if (token === null) {
    const apiKey = request.headers.get("apikey") ||
      new URL(request.url).searchParams.get("apikey");
    if (!apiKey) {
      throw missingApiKey();
    }
    token = apiKey;
  }
  if (token === "") {
    throw emptyJwt();
  }
  return token;
}
