/**
 * CORS for browsers, answered the way the kit's local proxy and Supabase's gateway do.
 *
 * Every response allows any origin (tokens travel in headers, never in cookies, so `*` is
 * safe) and exposes the headers a client may need to read. A preflight (`OPTIONS`) gets
 * `200 ok` with the headers supabase-js sends plus whatever the browser asks for, as long
 * as it looks like a header name.
 */

/** Headers supabase-js and supabase-py send: always allowed. */
export const CORS_ALLOW_HEADERS: readonly string[] = [
  "authorization",
  "x-client-info",
  "apikey",
  "content-type",
];
export const CORS_ALLOW_METHODS = "GET, POST, OPTIONS";
export const CORS_EXPOSE_HEADERS = "content-range, retry-after, proxy-status";
export const CORS_MAX_AGE_SECONDS = 86400;

/** Headers added to every response that is not a preflight answer. */
export const corsHeaders: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": CORS_EXPOSE_HEADERS,
};

/** A plausible header name (RFC 9110 token characters), so nothing odd is reflected. */
export function isHeaderName(name: string): boolean {
  return name.length > 0 && name.length <= 64 && /^[A-Za-z0-9._-]+$/.test(name);
}

/** The allowed request headers: the fixed list, then the requested ones not yet in it. */
export function allowedHeaders(requested: string | null): string[] {
  const allowed = [...CORS_ALLOW_HEADERS];
  for (const raw of (requested ?? "").split(",")) {
    const name = raw.trim().toLowerCase();
    if (name && !allowed.includes(name) && isHeaderName(name)) {
      allowed.push(name);
    }
  }
  return allowed;
}

/** The answer to a CORS preflight: `200 ok` with the allow headers. */
export function preflightResponse(request: Request): Response {
  const requested = request.headers.get("access-control-request-headers");
  return new Response("ok", {
    status: 200,
    headers: {
      "access-control-allow-origin": "*",
      "access-control-allow-headers": allowedHeaders(requested).join(", "),
      "access-control-allow-methods": CORS_ALLOW_METHODS,
      "access-control-max-age": String(CORS_MAX_AGE_SECONDS),
      "content-type": "text/plain; charset=utf-8",
    },
  });
}

/** `headers` with the CORS headers added (a new object; the argument is not changed). */
export function withCors(headers: HeadersInit = {}): Headers {
  const result = new Headers(headers);
  for (const [name, value] of Object.entries(corsHeaders)) {
    result.set(name, value);
  }
  return result;
}
