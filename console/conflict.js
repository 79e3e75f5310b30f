// One conflict: its accounts side by side, the choice of the account that stays, a preview
// of what the merge will do (support_merge_preview, which changes nothing), and the three
// resolutions (merge, keep separate, escalate) with the reason that goes on record.

import { actorText, count, fullName, h, orDash, pair, replace, shortId, when } from "./dom.js";
import { describe, isForbidden, status } from "./messages.js";

const BLOCKED = {
  conflict_closed: "This conflict is settled: there is nothing to merge.",
  conflict_outdated:
    "The accounts changed since this conflict was recorded (one was merged elsewhere, or " +
    "no longer holds what tied them). Resolving it marks it outdated; a request that still " +
    "meets the accounts raises a new conflict.",
  merge_blocked: "These accounts belong to two different logins and are never merged.",
};

/** Render conflict ``conflictId`` into ``ctx.main``. */
export async function renderConflict(ctx, conflictId) {
  let preview;
  try {
    preview = await ctx.session.mergePreview(conflictId, null);
  } catch (error) {
    if (isForbidden(error)) return ctx.notAgent();
    replace(
      ctx.main,
      h("h1", { tabindex: "-1" }, "Conflict"),
      h("p", { class: "lead" }, describe(error)),
      h("p", {}, h("a", { href: "#/queue" }, "Back to the queue")),
    );
    return;
  }
  const conflict = preview.conflict;
  const previewSection = h("section", {
    id: "merge-preview",
    "aria-labelledby": "merge-preview-title",
    "aria-live": "polite",
  });
  const reason = h("textarea", {
    id: "resolve-reason",
    name: "reason",
    rows: "3",
    maxlength: "1000",
    required: true,
    "aria-describedby": "resolve-reason-help",
  });
  let survivorId = preview.survivorId;

  const showPreview = (current) => {
    replace(previewSection, ...previewContent(current));
  };
  const chooseSurvivor = async (id) => {
    survivorId = id;
    try {
      const current = await ctx.session.mergePreview(conflictId, id);
      showPreview(current);
      mergeButton.textContent = mergeLabel(current);
    } catch (error) {
      status(describe(error), "error");
    }
  };

  const open = ["open", "escalated", "kept_separate"].includes(conflict.status);
  const mergeButton = h(
    "button",
    { type: "submit", class: "danger", value: "merge", disabled: !preview.canMerge },
    mergeLabel(preview),
  );
  const buttons = [mergeButton];
  if (["open", "escalated"].includes(conflict.status)) {
    buttons.push(
      h("button", { type: "submit", class: "secondary", value: "keep_separate" }, "Keep separate"),
    );
  }
  if (conflict.status === "open") {
    buttons.push(
      h("button", { type: "submit", class: "secondary", value: "escalate" }, "Escalate"),
    );
  }

  const resolve = async (action) => {
    if (!reason.value.trim()) {
      status("Write down why: the reason goes on record.", "error");
      reason.focus();
      return;
    }
    for (const button of buttons) button.disabled = true;
    status("Saving…");
    try {
      const answer = await ctx.session.resolveConflict(
        conflictId,
        action,
        action === "merge" ? survivorId : null,
        reason.value.trim(),
      );
      const outdated = (answer.notices || []).find((n) => n.code === "conflict_outdated");
      if (outdated) {
        ctx.go(`#/conflict/${conflictId}`, outdated.message, "error");
      } else if (action === "merge" && answer.customer) {
        ctx.go(
          `#/customer/${answer.customer.id}`,
          `Merged (merge ${answer.mergeIds.map((id) => `#${id}`).join(", ")}). This is the ` +
            "account that stayed; the merge can be undone below.",
          "success",
        );
      } else {
        ctx.go(
          `#/conflict/${conflictId}`,
          action === "escalate" ? "Escalated." : "Kept separate: these accounts are not " +
            "flagged again.",
          "success",
        );
      }
    } catch (error) {
      status(describe(error), "error");
      for (const button of buttons) button.disabled = false;
      mergeButton.disabled = !preview.canMerge;
    }
  };

  showPreview(preview);
  replace(
    ctx.main,
    h("p", { class: "crumbs" }, h("a", { href: `#/queue/${conflict.status}` }, "← Conflict queue")),
    h("h1", { tabindex: "-1" }, "Conflict ", shortId(conflict.id)),
    summary(conflict, ctx.session.user.id),
    h(
      "section",
      { "aria-labelledby": "accounts-title" },
      h("h2", { id: "accounts-title" }, "Accounts"),
      accountChoice(preview, open && preview.canMerge, chooseSurvivor),
    ),
    previewSection,
    open
      ? h(
        "section",
        { "aria-labelledby": "resolve-title" },
        h("h2", { id: "resolve-title" }, "Resolve"),
        h(
          "form",
          {
            class: "card resolve",
            onsubmit: (event) => {
              event.preventDefault();
              resolve(event.submitter?.value || "merge");
            },
          },
          h("label", { for: "resolve-reason" }, "Reason (kept on record)"),
          reason,
          h(
            "p",
            { id: "resolve-reason-help", class: "help" },
            'What you checked, for example "Same person: confirmed the order number on ' +
              'the phone". At most 1000 characters.',
          ),
          h("div", { class: "actions" }, buttons),
        ),
      )
      : null,
  );
}

function mergeLabel(preview) {
  if (!preview.canMerge) return "Merge";
  const survivor = preview.accounts.find((a) => a.id === preview.survivorId);
  return `Merge into ${
    fullName(survivor) || survivor?.email || survivor?.phone ||
    preview.survivorId.slice(0, 8)
  }`;
}

function summary(conflict, me) {
  const resolved = conflict.resolvedAt
    ? h(
      "p",
      {},
      `${statusLabel(conflict.status)} `,
      when(conflict.resolvedAt),
      " by ",
      actorText(conflict.resolvedBy, me),
      conflict.reason ? ` — “${conflict.reason}”` : "",
    )
    : null;
  return h(
    "div",
    { class: "summary" },
    h(
      "p",
      { class: "lead" },
      h("span", { class: `badge badge-${conflict.status}` }, statusLabel(conflict.status)),
      " Recorded ",
      when(conflict.createdAt),
      `, seen ${conflict.occurrences}×, last `,
      when(conflict.lastSeenAt),
      `. Tied by ${(conflict.identifierTypes || []).join(" and ") || "—"}.`,
    ),
    resolved,
  );
}

function statusLabel(value) {
  return {
    open: "Open",
    escalated: "Escalated",
    merged: "Merged",
    kept_separate: "Kept separate",
    outdated: "Outdated",
  }[value] || value;
}

/** The accounts of a preview as cards, with the survivor to choose when ``choosable``. */
export function accountChoice(preview, choosable, onChoose) {
  const cards = preview.accounts.map((account) =>
    accountCard(account, preview, choosable, onChoose)
  );
  if (!choosable) return h("div", { class: "cards" }, cards);
  return h(
    "fieldset",
    { class: "cards-fieldset" },
    h("legend", {}, "Which account stays (the survivor)?"),
    h("div", { class: "cards" }, cards),
  );
}

function accountCard(account, preview, choosable, onChoose) {
  const radioId = `survivor-${account.id}`;
  const ruleNote = account.id === preview.ruleSurvivorId
    ? (account.authUserId
      ? " (the rule's choice: linked to a login)"
      : " (the rule's choice: the oldest account)")
    : "";
  return h(
    "article",
    { class: "card account", "data-account": account.id },
    h("h3", {}, fullName(account) || "Unnamed account", " ", shortId(account.id)),
    choosable
      ? h(
        "div",
        { class: "choice" },
        h("input", {
          type: "radio",
          name: "survivor",
          id: radioId,
          value: account.id,
          checked: account.id === preview.survivorId,
          onchange: () => onChoose(account.id),
        }),
        h("label", { for: radioId }, `Keep this account${ruleNote}`),
      )
      : null,
    h(
      "dl",
      {},
      pair("Phone", orDash(account.phone)),
      pair("Email", orDash(account.email)),
      pair("Login", account.authUserId ? shortId(account.authUserId) : orDash(null)),
      pair("Channel", orDash(account.source)),
      pair("Created", when(account.createdAt)),
      pair("Orders", String(account.orderCount)),
      account.mergedInto ? pair("Merged into", shortId(account.mergedInto)) : null,
    ),
    h("h4", {}, "Identifiers"),
    h(
      "ul",
      { class: "plain identifiers" },
      account.identifiers.map((identifier) =>
        h(
          "li",
          {},
          h("span", { class: "muted" }, `${identifier.type} `),
          identifier.type === "auth_user" ? shortId(identifier.value) : identifier.value,
          " — ",
          identifier.status,
          identifier.verifiedAt ? [", verified ", when(identifier.verifiedAt)] : ", not verified",
        )
      ),
    ),
    h(
      "p",
      {},
      h(
        "a",
        { href: `#/customer/${account.id}` },
        "Open customer ",
        h("span", { class: "visually-hidden" }, account.id.slice(0, 8)),
      ),
    ),
  );
}

/** What a merge preview says, as the console shows it (conflicts and possible duplicates). */
export function previewContent(preview) {
  const title = h("h2", { id: "merge-preview-title" }, "What the merge will do");
  if (!preview.canMerge) {
    return [
      title,
      h(
        "p",
        { class: "notice" },
        BLOCKED[preview.blockedBecause] ||
          "These accounts cannot be merged.",
      ),
    ];
  }
  const byId = Object.fromEntries(preview.accounts.map((a) => [a.id, a]));
  const survivor = byId[preview.survivorId];
  const label = (account) => fullName(account) || account?.email || account?.phone || "account";
  const result = preview.result;
  return [
    title,
    h(
      "p",
      {},
      h("strong", {}, label(survivor)),
      " (",
      shortId(preview.survivorId),
      ") stays",
      preview.survivorChosen ? ", as you chose." : ", by the fixed rule.",
    ),
    h(
      "ul",
      { class: "moves" },
      preview.moves.map((move) => {
        const from = byId[move.fromId];
        const moved = move.identifiers.length
          ? move.identifiers.map((i) => `${i.type} ${i.type === "auth_user" ? "login" : i.value}`)
            .join(", ")
          : "no identifiers";
        return h(
          "li",
          {},
          "From ",
          h("strong", {}, label(from)),
          " (",
          shortId(move.fromId),
          `): ${moved} and ${count("order", move.orders)} move over; the account stays as a ` +
            "merged record, restorable by undoing the merge.",
        );
      }),
    ),
    h("h3", {}, "Afterwards"),
    h(
      "dl",
      { class: "result" },
      pair("Name", orDash(fullName(result))),
      pair("Phone", orDash(result.phone)),
      pair("Email", orDash(result.email)),
      pair("Login", result.authUserId ? shortId(result.authUserId) : orDash(null)),
      pair("Allergies", orDash((result.allergies || []).join(", "))),
      pair("Channels", orDash((result.accountSources || []).join(", "))),
      pair("Orders", String(result.orderCount)),
    ),
    h("p", { class: "help" }, "A preview: nothing has changed yet."),
  ];
}
