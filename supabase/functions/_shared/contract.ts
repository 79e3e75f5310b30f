// deno-fmt-ignore-file
// JSON shapes of the contract, generated from contract.schema.json: do not edit.
// Regenerate with `python -m customer_management.dev.contract_codegen`.

/** What a chatbot or web app sends. Unknown fields are ignored and reported in notices. */
export interface ResolutionRequest {
  /** Any common spelling; read in the default country (NANP unless configured). */
  phone?: string | null;
  /** Trimmed and case-folded for matching; the spelling given is kept for display. */
  email?: string | null;
  /** A Supabase Auth user id; an end user may only send their own. */
  authUserId?: string | null;
  /** Fills an empty first name; never overwrites. */
  firstName?: string | null;
  /** Fills an empty last name; never overwrites. */
  lastName?: string | null;
  /** Unioned into the account, case-insensitively. */
  allergies?: string[] | null;
  /** Which channel is calling. */
  source: "chatbot" | "webapp";
  /** Service role only: merge the accounts instead of flagging a conflict. */
  mergeIfFound?: boolean | null;
  /** A code the caller read back: proves the request's email (or phone) for this request. From request_verification. */
  verification?: Record<string, unknown> | null;
  [key: string]: unknown;
}

/** The account found, updated, merged or created. */
export interface Customer {
  id: string;
  name: string | null;
  phone: string | null;
  email: string | null;
  allergies: string[];
  isNewAccount: boolean;
  accountSources: Channel[];
  _internalId: string;
}

/** Where an account or identifier came from. */
export type Channel = "chatbot" | "webapp" | "import" | "support";

/** One order, newest first in orderHistory. */
export interface Order {
  id: string;
  items: unknown[];
  total: number;
  currency: string;
  status: "pending" | "confirmed" | "preparing" | "out_for_delivery" | "delivered" | "cancelled";
  deliveryDate: string | null;
  createdAt: string;
}

/** Something the caller should know that is not an error. */
export interface Notice {
  code: "placeholder_ignored" | "unknown_fields_ignored" | "identifier_limit_reached" | "accounts_merged" | "merge_blocked" | "merge_requires_service_role" | "kept_separate";
  message: string;
  field?: string;
  fields?: string[];
  /** accounts_merged: the merge-log ids of the merges made, for undo_merge. */
  mergeIds?: number[];
}

/** An identifier the caller sent but has not proven: stored as pending, matched by nobody. A verification code (or a confirmation in Supabase Auth) proves it. */
export interface VerificationRequest {
  type: "phone" | "email" | "auth_user";
  value: string;
}

/** Found or created (HTTP 200). */
export interface Success {
  customer: Customer;
  orderHistory: Order[];
  /** A sentence a chatbot can say as it is. */
  summary: string;
  verificationRequired?: VerificationRequest[];
  notices?: Notice[];
}

/** One account of a conflict. A trusted caller sees its id and contact data; an end user sees masked contact data only. */
export interface ConflictAccount {
  id?: string;
  email?: string;
  phone?: string;
  source?: Channel;
}

export interface Conflicts {
  found: true;
  accounts: ConflictAccount[];
  suggestedActions: string[];
}

/** Several accounts matched (HTTP 200 on the RPC route, 409 on the function route). Recorded, nothing merged. */
export interface Conflict {
  error: "Account conflict";
  conflicts: Conflicts;
  message: string;
  conflictId: string;
  notices?: Notice[];
}

/** What the RPC returns. */
export type ResolutionResponse = Success | Conflict;

/** What request_verification returns to the service role, to deliver to the customer out of band. The kit stores only a keyed hash of the code. */
export interface VerificationCode {
  verificationId: string;
  code: string;
  expiresAt: string;
}

/** PostgREST's error body. For the kit's own errors, message is a stable code (see KitErrorCode) and code the SQLSTATE; errors of the HTTP layer carry a PGRSTxxx code. */
export interface ErrorBody {
  code: string;
  message: string;
  details: string | null;
  hint: string | null;
}

/** The message of every error the kit raises itself. */
export type KitErrorCode = "invalid_request" | "missing_identifier" | "invalid_source" | "invalid_phone" | "invalid_email" | "invalid_auth_user_id" | "unknown_auth_user" | "name_too_long" | "invalid_name" | "invalid_allergies" | "payload_too_large" | "not_authenticated" | "forbidden" | "rate_limited" | "try_again" | "verification_required" | "invalid_verification" | "invalid_preferences" | "not_found" | "invalid_action" | "invalid_survivor" | "invalid_reason" | "conflict_closed" | "merge_blocked" | "merge_already_undone" | "undo_blocked_by_later_merges" | "undo_blocked" | "customer_erased" | "invalid_page" | "invalid_accounts" | "not_possible_duplicates";
