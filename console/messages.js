// What the agent reads when something happens: the status line (announced to screen
// readers) and the kit's error codes in plain words.

import { h, replace } from "./dom.js";

const EXPLAINED = {
  forbidden:
    "This user is not a support agent. An admin gives the role by setting app_metadata.role " +
    'to "support" on the user.',
  not_authenticated: "The session has ended: sign in again.",
  not_found: "Nothing with this id exists (any more).",
  conflict_closed: "This conflict is already settled.",
  merge_blocked: "These accounts belong to two different logins and are never merged.",
  merge_already_undone: "This merge was already undone.",
  undo_blocked_by_later_merges:
    "Later merges build on this one: undo them first, or undo with them.",
  undo_blocked: "The undo would not be exact, so nothing was changed.",
  customer_erased: "A person of this merge was erased: their data is gone.",
  invalid_phone: "That is not a phone number the kit can read.",
  invalid_email: "That is not an email address.",
  invalid_survivor: "The chosen survivor is not one of the conflict's accounts.",
  invalid_reason: "The reason is too long (1000 characters at most).",
  invalid_request: "Something is missing.",
  not_possible_duplicates: "These accounts are not one group of possible duplicates (any more).",
  invalid_accounts: "Pick at least two accounts that are not one already.",
};

/** A sentence for an error: the kit's code explained, with its details. */
export function describe(error) {
  if (!error) return "Something went wrong.";
  const code = error.code || "";
  if (error.sqlstate === "42501" && code.startsWith("permission denied")) {
    return EXPLAINED.forbidden;
  }
  const known = EXPLAINED[code];
  const details = error.details ? ` (${error.details})` : "";
  if (known) return known + details;
  return (error.message || String(error)) + details;
}

/** True when the caller is simply not allowed (not an agent, or no user). */
export function isForbidden(error) {
  return error?.sqlstate === "42501" || error?.code === "forbidden";
}

/** Show ``text`` in the status line: kind is "info", "success" or "error". */
export function status(text, kind = "info") {
  const region = document.getElementById("status");
  if (!region) return;
  if (!text) {
    replace(region);
    region.className = "";
    return;
  }
  region.className = `status status-${kind}`;
  replace(region, h("p", {}, text));
}
