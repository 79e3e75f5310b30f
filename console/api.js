// The console's only way to the kit: supabase-js with the project's anon key and the
// agent's session, calling the kit's RPCs. Nothing else leaves the browser, and the
// service-role key is refused wherever it could slip in.

const TOKEN_KEY = "customer-management-console-token";
const AUTH_STORAGE_KEY = "customer-management-console-auth";

/** An error of an RPC, in the kit's shape: code (the stable message), SQLSTATE, details. */
export class ApiError extends Error {
  constructor({ message, code, details, hint }) {
    super(message || "error");
    this.code = message || "error";
    this.sqlstate = code || null;
    this.details = details || "";
    this.hint = hint || "";
  }
}

/** The claims of a JWT, or null when it is not one (nothing is verified here: the server
 * verifies; this only keeps a service-role key out of the page). */
export function jwtClaims(token) {
  const parts = String(token || "").trim().split(".");
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return JSON.parse(atob(padded));
  } catch {
    return null;
  }
}

/** config.json, checked: the API URL (empty means this page's origin), the anon key and how
 * the agent signs in ("password" with Supabase Auth, "token" pasted, or "both"). */
export async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const raw = await response.json();
  const config = {
    supabaseUrl: String(raw.supabaseUrl || "").replace(/\/+$/, "") || window.location.origin,
    anonKey: String(raw.anonKey || ""),
    signIn: ["password", "token", "both"].includes(raw.signIn) ? raw.signIn : "password",
  };
  if (!config.anonKey) {
    throw new Error("config.json has no anonKey: set it to the project's anon key.");
  }
  if (jwtClaims(config.anonKey)?.role === "service_role") {
    throw new Error(
      "config.json holds the service-role key. Never put it in a web page: use the anon key.",
    );
  }
  return config;
}

function library() {
  if (!globalThis.supabase?.createClient) {
    throw new Error("supabase-js is missing (vendor/supabase.js): run `make console`.");
  }
  return globalThis.supabase;
}

/** A signed-in agent: a supabase-js client and who it is. */
export class Session {
  constructor(client, user, signOut) {
    this.client = client;
    this.user = user;
    this._signOut = signOut;
  }

  /** Call ``public.<name>(args)``; resolve with its data or reject with an ApiError. */
  async rpc(name, args = {}) {
    const { data, error } = await this.client.rpc(name, args);
    if (error) throw new ApiError(error);
    return data;
  }

  async signOut() {
    await this._signOut();
  }

  conflictQueue(status, pageSize, afterConflictId) {
    const args = { status, page_size: pageSize };
    if (afterConflictId) args.after_conflict_id = afterConflictId;
    return this.rpc("support_conflict_queue", args);
  }

  findCustomers(phone, email) {
    const args = {};
    if (phone) args.phone = phone;
    if (email) args.email = email;
    return this.rpc("support_find_customers", args);
  }

  customerView(customerId) {
    return this.rpc("support_customer_view", { customer_id: customerId });
  }

  mergePreview(conflictId, survivorId) {
    const args = { conflict_id: conflictId };
    if (survivorId) args.survivor_id = survivorId;
    return this.rpc("support_merge_preview", args);
  }

  resolveConflict(conflictId, action, survivorId, reason) {
    const args = { conflict_id: conflictId, action, reason };
    if (survivorId) args.survivor_id = survivorId;
    return this.rpc("resolve_conflict", args);
  }

  possibleDuplicates(pageSize, afterGroup) {
    const args = { page_size: pageSize };
    if (afterGroup !== null && afterGroup !== undefined) args.after_group = afterGroup;
    return this.rpc("support_possible_duplicates", args);
  }

  duplicateMergePreview(accountIds, survivorId) {
    const args = { account_ids: accountIds };
    if (survivorId) args.survivor_id = survivorId;
    return this.rpc("support_duplicate_merge_preview", args);
  }

  mergeDuplicates(accountIds, survivorId, reason) {
    const args = { account_ids: accountIds, reason };
    if (survivorId) args.survivor_id = survivorId;
    return this.rpc("support_merge_duplicates", args);
  }

  keepDuplicatesApart(accountIds, reason) {
    return this.rpc("support_keep_duplicates_apart", { account_ids: accountIds, reason });
  }

  undoMerge(mergeId, cascade, reason) {
    return this.rpc("undo_merge", { merge_id: mergeId, cascade, reason });
  }
}

function tokenSession(config, token) {
  const claims = jwtClaims(token);
  const client = library().createClient(config.supabaseUrl, config.anonKey, {
    accessToken: () => Promise.resolve(token),
  });
  const user = { id: claims?.sub || null, email: claims?.email || null };
  return new Session(client, user, () => {
    sessionStorage.removeItem(TOKEN_KEY);
    return Promise.resolve();
  });
}

function authClient(config) {
  return library().createClient(config.supabaseUrl, config.anonKey, {
    auth: {
      storage: window.sessionStorage,
      storageKey: AUTH_STORAGE_KEY,
      persistSession: true,
      autoRefreshToken: true,
      detectSessionInUrl: false,
    },
  });
}

/** Check a pasted token before it is used: a user's access token, never an API key. */
export function checkPastedToken(token) {
  const claims = jwtClaims(token);
  if (!claims) return "That is not an access token (a JWT with three dot-separated parts).";
  if (claims.role === "service_role") {
    return "That is the service-role key. It must never be used in a browser: paste the " +
      "agent's access token (customer-management token --support --email ...).";
  }
  if (claims.role !== "authenticated" || !claims.sub) {
    return "That token signs in no user: paste the agent's access token.";
  }
  if (claims.exp && claims.exp * 1000 < Date.now()) return "That token has expired.";
  return null;
}

/** Sign in with a pasted access token (local stack). */
export function signInWithToken(config, token) {
  const problem = checkPastedToken(token);
  if (problem) throw new Error(problem);
  sessionStorage.setItem(TOKEN_KEY, token.trim());
  return tokenSession(config, token.trim());
}

/** Sign in with Supabase Auth's email and password (hosted project). */
export async function signInWithPassword(config, email, password) {
  const client = authClient(config);
  const { data, error } = await client.auth.signInWithPassword({ email, password });
  if (error) throw new Error(error.message || "Sign-in failed.");
  return new Session(
    client,
    { id: data.user?.id || null, email: data.user?.email || null },
    async () => {
      await client.auth.signOut();
    },
  );
}

/** The session this tab already has (a pasted token or a Supabase Auth session), or null. */
export async function restoreSession(config) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && !checkPastedToken(token)) return tokenSession(config, token);
  sessionStorage.removeItem(TOKEN_KEY);
  if (config.signIn === "token") return null;
  const client = authClient(config);
  const { data } = await client.auth.getSession();
  if (!data?.session) return null;
  const user = data.session.user;
  return new Session(
    client,
    { id: user?.id || null, email: user?.email || null },
    async () => {
      await client.auth.signOut();
    },
  );
}
