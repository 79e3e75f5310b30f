// deno-fmt-ignore-file
// JSON shapes of the contract, generated from contract.schema.json: do not edit.
// Regenerate with `python -m tools.contract_codegen`.

/** What a chatbot or web app sends. source and at least one usable phone, email or authUserId are required (placeholders do not count). Unknown fields are ignored and reported in notices. */
export type ResolutionRequest = {
  /** At most 64 characters, in any common spelling; read in the default country (NANP unless configured). */
  phone?: string | null;
  /** At most 254 characters. Trimmed and case-folded for matching; the spelling given is kept for display. */
  email?: string | null;
  /** A Supabase Auth user id; an end user may only send their own. */
  authUserId?: string | null;
  /** At most 200 characters. Fills an empty first name; never overwrites. */
  firstName?: string | null;
  /** At most 200 characters. Fills an empty last name; never overwrites. */
  lastName?: string | null;
  /** At most 50 non-empty strings of at most 100 characters; unioned into the account, case-insensitively. */
  allergies?: string[] | null;
  /** Which channel is calling (required). */
  source: "chatbot" | "webapp";
  /** Service role only: merge the accounts instead of flagging a conflict. */
  mergeIfFound?: boolean | null;
  /** A code the caller read back: proves the request's email (or phone) for this request. From request_verification. */
  verification?: { id: string; code: string; } | null;
  /** Chatbot channel only: when the caller's line reaches an account that asks for a second proof (second_proof_required) and the caller cannot give one, serve the caller on an account of their own instead; the contested phone goes to support as a conflict. */
  withoutSecondProof?: boolean | null;
  [key: string]: unknown;
};

/** The account found, updated, merged or created. */
export type Customer = {
  id: string;
  name: string | null;
  phone: string | null;
  email: string | null;
  allergies: string[];
  isNewAccount: boolean;
  accountSources: Channel[];
  _internalId: string;
};

/** Where an account or identifier came from. */
export type Channel = "chatbot" | "webapp" | "import" | "support";

/** One order, newest first in orderHistory. */
export type Order = {
  id: string;
  items: unknown[];
  total: number;
  currency: string;
  status: "pending" | "confirmed" | "preparing" | "out_for_delivery" | "delivered" | "cancelled";
  deliveryDate: string | null;
  createdAt: string;
};

/** Something the caller should know that is not an error. */
export type Notice = {
  code: "placeholder_ignored" | "unknown_fields_ignored" | "identifier_limit_reached" | "accounts_merged" | "merge_blocked" | "merge_requires_service_role" | "kept_separate" | "conflict_outdated";
  message: string;
  field?: string;
  fields?: string[];
  /** accounts_merged: the merge-log ids of the merges made, for undo_merge. */
  mergeIds?: number[];
};

/** An identifier the caller sent but has not proven: stored as pending, matched by nobody. A verification code (or a confirmation in Supabase Auth) proves it. */
export type VerificationRequest = {
  type: "phone" | "email" | "auth_user";
  value: string;
};

/** Found or created (HTTP 200). */
export type Success = {
  customer: Customer;
  orderHistory: Order[];
  /** A sentence a chatbot can say as it is. */
  summary: string;
  verificationRequired?: VerificationRequest[];
  notices?: Notice[];
};

/** One account of a conflict. A trusted caller sees its id and contact data; an end user sees masked contact data only. */
export type ConflictAccount = {
  id?: string;
  email?: string;
  phone?: string;
  source?: Channel;
};

export type Conflicts = {
  found: true;
  accounts: ConflictAccount[];
  suggestedActions: string[];
};

/** Several accounts matched (HTTP 200 on the RPC route, 409 on the function route). Recorded, nothing merged. */
export type Conflict = {
  error: "Account conflict";
  conflicts: Conflicts;
  message: string;
  conflictId: string;
  notices?: Notice[];
};

/** What the RPC returns. */
export type ResolutionResponse = Success | Conflict;

/** What request_verification returns to the service role, to deliver to the customer out of band. The kit stores only a keyed hash of the code. */
export type VerificationCode = {
  verificationId: string;
  code: string;
  expiresAt: string;
};

/** PostgREST's error body. For the kit's own errors, message is a stable code (see KitErrorCode) and code the SQLSTATE; errors of the HTTP layer carry a PGRSTxxx code. */
export type ErrorBody = {
  code: string;
  message: string;
  details: string | null;
  hint: string | null;
};

/** The message of every error the kit answers itself, with its SQLSTATE (x-sqlstate): P0001 is HTTP 400, 42501 is 401 for anon and 403 otherwise, PTxyz is xyz. */
export type KitErrorCode = "invalid_request" | "missing_identifier" | "invalid_source" | "invalid_phone" | "invalid_email" | "invalid_auth_user_id" | "unknown_auth_user" | "name_too_long" | "invalid_name" | "invalid_allergies" | "payload_too_large" | "not_authenticated" | "forbidden" | "second_proof_required" | "contact_follows_identifiers" | "rate_limited" | "try_again" | "verification_required" | "invalid_verification" | "invalid_preferences" | "not_found" | "invalid_action" | "invalid_survivor" | "invalid_reason" | "conflict_closed" | "merge_blocked" | "merge_already_undone" | "undo_blocked_by_later_merges" | "undo_blocked" | "customer_erased" | "invalid_page" | "invalid_requester" | "invalid_accounts" | "not_possible_duplicates";

/** Where a conflict stands: open (nobody decided yet), escalated (handed to support), merged, kept_separate (different people), outdated (its accounts changed since it was recorded). */
export type ConflictStatus = "open" | "escalated" | "merged" | "kept_separate" | "outdated";

/** A conflict as the lifecycle and support RPCs show it. accounts are masked (no ids, partial contact data) for an end user; reason and resolvedBy.userId are given to trusted callers only. */
export type ConflictState = {
  id: string;
  status: ConflictStatus;
  accounts: ConflictAccount[];
  identifierTypes: string[];
  occurrences: number;
  createdAt: string;
  lastSeenAt: string;
  resolvedAt?: string;
  resolvedBy?: { role: string; userId?: string | null; };
  reason?: string;
};

/** An account as support's answers show it: enough to recognise it, nothing of its history. */
export type AccountCard = {
  id: string;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  email: string | null;
  authUserId: string | null;
  source?: string | null;
  accountSources: string[];
  orderCount: number;
  createdAt: string;
  mergedInto: string | null;
  mergedAt: string | null;
};

/** Everything the kit keeps about a person (a live account and every account merged into it), as docs/lifecycle.md describes each field. Nothing about anyone else. */
export type CustomerDocument = {
  customerId: string;
  profile: { id: string; };
  mergedAccounts: (Record<string, unknown>)[];
  identifiers: (Record<string, unknown>)[];
  claimsOnOtherAccounts: (Record<string, unknown>)[];
  orders: (Record<string, unknown>)[];
  merges: (Record<string, unknown>)[];
  conflicts: (Record<string, unknown>)[];
  verifications: (Record<string, unknown>)[];
  rateLimitCounters: (Record<string, unknown>)[];
  auditEntries: (Record<string, unknown>)[];
  events: (Record<string, unknown>)[];
};

/** request_verification: a one-time code for an email or phone the caller said (service role only). Name the requester (the caller's line, the signed-in user, or a session): codes are limited per requester as well as per identifier, and the owner's own channel is counted apart from strangers. */
export type RequestVerificationArgs = {
  /** What the code proves. */
  identifier_type: "email" | "phone";
  /** The email or phone in any common spelling; placeholders and malformed values are refused. */
  identifier_value: string;
  /** The phone line the call comes from (the chatbot's caller), in any common spelling. */
  requester_line?: string | null;
  /** The signed-in Supabase Auth user the backend asks for. */
  requester_user_id?: string | null;
  /** An id of the session or visitor the request is for (1 to 200 characters); defaults to the X-Customer-Requester header. */
  requester_session?: string | null;
};

/** resolve_conflict: merge a conflict's accounts, keep them separate, or escalate it. */
export type ResolveConflictArgs = {
  /** The conflictId of the conflict answer. */
  conflict_id: string;
  /** merge, keep_separate or escalate. */
  action: "merge" | "keep_separate" | "escalate";
  /** With merge only: which of the conflict's accounts survives (default: the one linked to a login, else the oldest). */
  survivor_id?: string | null;
  /** Why, for the record (kept with the merge log or the conflict). */
  reason?: string | null;
};

/** undo_merge: undo one merge exactly (service role and support agents). */
export type UndoMergeArgs = {
  /** A merge id from mergeIds or an accounts_merged notice. */
  merge_id: number;
  /** Undo the later merges built on this one first, newest first (null counts as false). */
  cascade?: boolean | null;
  /** Why, for the record (kept with the merge log or the conflict). */
  reason?: string | null;
};

/** export_customer_data: everything kept about a person (GDPR access and portability). */
export type ExportCustomerDataArgs = {
  /** The customer (any id of theirs; a merged-away id is followed to its survivor). Required for the service role and support agents; an end user leaves it out (or sends one of their own ids). */
  customer_id?: string | null;
};

/** erase_customer: erase a person (GDPR erasure); orders stay without a customer. */
export type EraseCustomerArgs = {
  /** The customer (any id of theirs; a merged-away id is followed to its survivor). Required for the service role and support agents; an end user leaves it out (or sends one of their own ids). */
  customer_id?: string | null;
  /** Why, for the record (kept with the merge log or the conflict). */
  reason?: string | null;
};

/** current_customer_id: the account a customer id stands for now. */
export type CurrentCustomerIdArgs = {
  /** Any customer id, live or merged away (null answers null). */
  customer_id: string | null;
};

/** customer_orders: one page of a customer's orders, newest first. */
export type CustomerOrdersArgs = {
  /** The customer (any id of theirs; a merged-away id is followed to its survivor). Required for the service role and support agents; an end user leaves it out (or sends one of their own ids). */
  customer_id?: string | null;
  /** Orders per page. */
  page_size?: number;
  /** Which page, from 1. */
  page?: number;
};

/** support_conflict_queue: one page of the conflicts of a status, oldest first (service role and support agents). */
export type SupportConflictQueueArgs = {
  /** Which conflicts to list. */
  status?: ConflictStatus;
  /** Conflicts per page. */
  page_size?: number;
  /** The nextAfter of the previous page (leave it out for the first page). */
  after_conflict_id?: string | null;
};

/** support_find_customers: the live accounts holding exactly this phone or email (service role and support agents). Send a phone, an email or both: a body naming neither is invalid_request. */
export type SupportFindCustomersArgs = {
  /** A phone in any common spelling. */
  phone?: string | null;
  /** An email address. */
  email?: string | null;
};

/** support_customer_view: one account's profile, identifiers, orders, conflicts and merges with what undoing each would restore (service role and support agents). */
export type SupportCustomerViewArgs = {
  /** Any id of the customer; a merged-away id is followed. */
  customer_id: string;
};

/** support_merge_preview: what merging a conflict's accounts would do, changing nothing (service role and support agents). */
export type SupportMergePreviewArgs = {
  /** The conflict to preview. */
  conflict_id: string;
  /** Which account would survive (default: the merge rule's choice). */
  survivor_id?: string | null;
};

/** What resolve_conflict returns: the conflict's new state and the merges made; after a merge also the survivor in customer_management's shape. */
export type ConflictResolution = {
  conflict: ConflictState;
  mergeIds: number[];
  customer?: Customer;
  orderHistory?: Order[];
  summary?: string;
  notices?: Notice[];
};

/** What undo_merge returns: the merges undone (newest first with cascade) and the accounts as they are again. */
export type MergeUndo = {
  undoneMergeIds: number[];
  accounts: Customer[];
};

/** What export_customer_data returns. */
export type CustomerExport = CustomerDocument & {
  exportedAt: string;
};

/** What erase_customer returns. */
export type Erasure = {
  erased: true;
  customerIds: string[];
  identifiersErased: number;
  ordersKept: number;
};

/** What current_customer_id returns: the live account's id, or null when the id is unknown or erased (and, for an end user, when it is not theirs). */
export type CurrentCustomerId = string | null;

/** What customer_orders returns. */
export type OrdersPage = {
  orders: Order[];
  page: number;
  hasMore: boolean;
  orderCount: number;
};

/** What support_conflict_queue returns: one page, oldest first, accounts unmasked, and where the next page starts (null on the last). */
export type ConflictQueue = {
  status: ConflictStatus;
  total: number;
  conflicts: (ConflictState & { ageSeconds: number; })[];
  nextAfter: string | null;
};

/** What support_find_customers returns: the normalised phone and email searched for (null when not given or a placeholder) and the live accounts found, each with how it matched. */
export type CustomerSearch = {
  phone: string | null;
  email: string | null;
  customers: (AccountCard & { matchedBy: ({ type: string; status: string; onAccount: string; })[]; })[];
};

/** What support_customer_view returns: the export of the person behind the id, the account as support's cards show it, and each merge with what undoing it would restore. */
export type SupportCustomerView = CustomerDocument & {
  requestedId: string;
  account: AccountCard;
};

/** What support_merge_preview returns: the conflict, its accounts, which would survive, what would move, the merged result, and whether the merge may happen (blockedBecause says why not). */
export type MergePreview = {
  conflict: ConflictState;
  accounts: (Record<string, unknown>)[];
  survivorId: string;
  ruleSurvivorId: string;
  survivorChosen: boolean;
  moves: (Record<string, unknown>)[];
  result: Record<string, unknown>;
  canMerge: boolean;
  blockedBecause: string | null;
};

/** support_possible_duplicates: one page of possible-duplicate groups, strongest first (service role and support agents). */
export type SupportPossibleDuplicatesArgs = {
  /** Groups per page. */
  page_size?: number;
  /** The nextAfter of the previous page (leave it out for the first page). */
  after_group?: number | null;
};

/** support_duplicate_merge_preview: what merging some accounts of one possible-duplicate group would do, changing nothing (service role and support agents). */
export type SupportDuplicateMergePreviewArgs = {
  /** Two or more accounts of one group. */
  account_ids: string[];
  /** Which account would survive (default: the merge rule's choice). */
  survivor_id?: string | null;
};

/** support_merge_duplicates: merge accounts of one possible-duplicate group (each merge undoable with undo_merge; service role and support agents). */
export type SupportMergeDuplicatesArgs = {
  /** Two or more accounts of one group. */
  account_ids: string[];
  /** Which account survives (default: the merge rule's choice). */
  survivor_id?: string | null;
  /** Why, kept sealed with the keys of the people it is about. */
  reason?: string | null;
};

/** support_keep_duplicates_apart: these accounts are different people; the pairs among them are not proposed again (service role and support agents). */
export type SupportKeepDuplicatesApartArgs = {
  /** Two or more accounts of one group. */
  account_ids: string[];
  /** Why, kept sealed with the keys of the people it is about. */
  reason?: string | null;
};

/** A page of possible-duplicate groups: each group's accounts and its pairs with score and reasons, and nextAfter. */
export type PossibleDuplicatePage = Record<string, unknown>;

/** What a merge of these accounts would do: the survivor, what moves, whether it can merge. */
export type DuplicateMergePreview = Record<string, unknown>;

/** The survivor in the customer_management shape, the merge ids (undo_merge takes them) and the group's remaining pairs. */
export type DuplicateMergeResult = Record<string, unknown>;

/** The pairs kept apart and the groups left. */
export type DuplicateDecision = Record<string, unknown>;

/** Every RPC of the kit: its arguments and its answer, as supabase-js' generics read them. */
export type CustomerManagementFunctions = {
  customer_management: { Args: ResolutionRequest; Returns: ResolutionResponse };
  request_verification: { Args: RequestVerificationArgs; Returns: VerificationCode };
  resolve_conflict: { Args: ResolveConflictArgs; Returns: ConflictResolution };
  undo_merge: { Args: UndoMergeArgs; Returns: MergeUndo };
  export_customer_data: { Args: ExportCustomerDataArgs; Returns: CustomerExport };
  erase_customer: { Args: EraseCustomerArgs; Returns: Erasure };
  current_customer_id: { Args: CurrentCustomerIdArgs; Returns: CurrentCustomerId };
  customer_orders: { Args: CustomerOrdersArgs; Returns: OrdersPage };
  support_conflict_queue: { Args: SupportConflictQueueArgs; Returns: ConflictQueue };
  support_find_customers: { Args: SupportFindCustomersArgs; Returns: CustomerSearch };
  support_customer_view: { Args: SupportCustomerViewArgs; Returns: SupportCustomerView };
  support_merge_preview: { Args: SupportMergePreviewArgs; Returns: MergePreview };
  support_possible_duplicates: { Args: SupportPossibleDuplicatesArgs; Returns: PossibleDuplicatePage };
  support_duplicate_merge_preview: { Args: SupportDuplicateMergePreviewArgs; Returns: DuplicateMergePreview };
  support_merge_duplicates: { Args: SupportMergeDuplicatesArgs; Returns: DuplicateMergeResult };
  support_keep_duplicates_apart: { Args: SupportKeepDuplicatesApartArgs; Returns: DuplicateDecision };
};

/** Schema public as far as the kit goes, for `createClient<Database>(url, key)`; merge `CustomerManagementFunctions` into your own generated `Database` instead if you have one. */
export type Database = {
  public: {
    Tables: { [_ in never]: never };
    Views: { [_ in never]: never };
    Functions: CustomerManagementFunctions;
    Enums: { [_ in never]: never };
    CompositeTypes: { [_ in never]: never };
  };
};
