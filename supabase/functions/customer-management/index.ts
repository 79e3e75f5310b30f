/**
 * Supabase Edge Function `customer-management`: `POST /functions/v1/customer-management`.
 *
 * A thin wrapper around the SQL function `public.customer_management(jsonb)`: the request
 * body goes to the RPC unchanged, through supabase-js, with the caller's own token as
 * `Authorization`, so PostgREST verifies it and RLS and the RPC see the real caller (the
 * chatbot's service-role key, or a signed-in user's JWT). See `handler.ts` for the
 * statuses. Environment: `SUPABASE_URL` and `SUPABASE_ANON_KEY` (set by Supabase for
 * every deployed function; set them yourself when running it with `deno serve`).
 *
 * The module's default export (`{ fetch }`) is what both Supabase's edge runtime and
 * `deno serve` start.
 */

import { createClient } from "@supabase/supabase-js";
import type { ResolutionResponse } from "../_shared/contract.ts";
import {
  createHandler,
  REQUESTER_HEADER,
  RPC_NAME,
  type RpcOutcome,
} from "./handler.ts";

/** Give up on the API after this long (the caller gets 503, like an unreachable API). */
const RPC_TIMEOUT_MS = 30_000;

function requiredEnv(name: string): string {
  const value = Deno.env.get(name);
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

/** One RPC call as the caller: supabase-js with the project URL and anon key. */
async function callRpc(
  body: unknown,
  token: string,
  requester: string | null,
): Promise<RpcOutcome> {
  // supabase-js does not return response headers: keep the API's own (WWW-Authenticate,
  // Retry-After) to pass them on with an error answer.
  let apiHeaders: Headers | null = null;
  const recordingFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    apiHeaders = response.headers;
    return response;
  };
  const client = createClient(
    requiredEnv("SUPABASE_URL"),
    requiredEnv("SUPABASE_ANON_KEY"),
    {
      global: {
        headers: {
          Authorization: `Bearer ${token}`,
          ...(requester === null ? {} : { [REQUESTER_HEADER]: requester }),
        },
        fetch: recordingFetch,
      },
      auth: {
        persistSession: false,
        autoRefreshToken: false,
        detectSessionInUrl: false,
      },
    },
  );
  // The body is whatever JSON the caller sent: a function with a single unnamed jsonb
  // parameter receives the whole body, and the RPC validates it.
  const args = body as Record<string, unknown>;
  const { data, error, status } = await client.rpc(RPC_NAME, args).abortSignal(
    AbortSignal.timeout(RPC_TIMEOUT_MS),
  );
  return {
    data: data as ResolutionResponse | null,
    error,
    status,
    headers: apiHeaders,
  };
}

export const handler = createHandler(callRpc);

export default { fetch: handler } satisfies Deno.ServeDefaultExport;
