// One customer as support sees them (support_customer_view): profile, identifiers with
// status and verification, orders, merge history with an undo that says what it will
// restore, conflicts and the audit trail.

import {
  actorText,
  count,
  fullName,
  h,
  orDash,
  pair,
  replace,
  shortId,
  table,
  when,
} from "./dom.js";
import { describe, isForbidden, status } from "./messages.js";

/** Render customer ``customerId`` into ``ctx.main``. */
export async function renderCustomer(ctx, customerId) {
  let view;
  try {
    view = await ctx.session.customerView(customerId);
  } catch (error) {
    if (isForbidden(error)) return ctx.notAgent();
    replace(
      ctx.main,
      h("h1", { tabindex: "-1" }, "Customer"),
      h("p", { class: "lead" }, describe(error)),
      h("p", {}, h("a", { href: "#/search" }, "Find a customer")),
    );
    return;
  }
  const account = view.account;
  replace(
    ctx.main,
    h("h1", { tabindex: "-1" }, fullName(account) || "Unnamed account", " ", shortId(account.id)),
    view.requestedId !== view.customerId
      ? h(
        "p",
        { class: "notice" },
        "Account ",
        shortId(view.requestedId),
        " was merged into this one.",
      )
      : null,
    profile(view),
    identifiers(view),
    orders(view),
    merges(ctx, view),
    conflicts(view),
    audit(view, ctx.session.user.id),
  );
}

function section(id, title, ...content) {
  return h(
    "section",
    { "aria-labelledby": id },
    h("h2", { id }, title),
    ...content,
  );
}

function profile(view) {
  const p = view.profile;
  const preferences = p.preferences || {};
  return section(
    "profile-title",
    "Profile",
    h(
      "dl",
      { class: "card profile" },
      pair("Id", h("code", {}, p.id)),
      pair("Name", orDash(fullName(p))),
      pair("Phone", orDash(p.phone)),
      pair("Email", orDash(p.email)),
      pair("Login", p.authUserId ? h("code", {}, p.authUserId) : orDash(null)),
      pair("Allergies", orDash((p.allergies || []).join(", "))),
      pair("Channels", orDash((preferences.account_sources || []).join(", "))),
      pair("Created", when(p.createdAt)),
      pair("Updated", when(p.updatedAt)),
      view.mergedAccounts.length
        ? pair(
          "Merged into it",
          view.mergedAccounts.map((m, i) => [i ? ", " : "", shortId(m.id)]),
        )
        : null,
    ),
  );
}

function identifiers(view) {
  const rows = view.identifiers.map((i) => [
    i.type,
    i.type === "auth_user" ? shortId(i.value) : i.displayValue,
    h("span", { class: `badge badge-${i.status}` }, i.status),
    i.verifiedAt ? when(i.verifiedAt) : h("span", { class: "muted" }, "not verified"),
    orDash(i.source),
    i.customerId === view.customerId ? "this account" : ["merged ", shortId(i.customerId)],
  ]);
  const claims = view.claimsOnOtherAccounts.map((c) => [
    c.type,
    c.value,
    h("span", { class: "badge badge-pending" }, c.status),
    orDash(c.source),
    h("a", { href: `#/customer/${c.customerId}` }, "account ", shortId(c.customerId)),
  ]);
  return section(
    "identifiers-title",
    "Identifiers",
    rows.length
      ? table(
        "Phones, emails and logins",
        ["Type", "Value", "Status", "Verified", "Source", "On"],
        rows,
      )
      : h("p", {}, "None."),
    claims.length
      ? table("Claimed by other accounts (pending, unproven)", [
        "Type",
        "Value",
        "Status",
        "Source",
        "Claimed on",
      ], claims)
      : null,
  );
}

function orders(view) {
  const rows = view.orders.map((o) => [
    when(o.createdAt),
    orDash(o.status),
    `${o.total} ${o.currency || ""}`.trim(),
    (o.items || []).map((item) => item.name || item.sku || "item").join(", ") || "—",
    o.customerId === view.customerId ? "this account" : ["merged ", shortId(o.customerId)],
  ]);
  return section(
    "orders-title",
    `Orders (${view.orders.length})`,
    rows.length
      ? table("Orders, newest first", ["Placed", "Status", "Total", "Items", "On"], rows)
      : h("p", {}, "No orders."),
  );
}

function merges(ctx, view) {
  return section(
    "merges-title",
    "Merge history",
    view.merges.length
      ? h("ol", { class: "plain merges" }, view.merges.map((m) => mergeItem(ctx, view, m)))
      : h("p", {}, "No merges."),
  );
}

function person(card) {
  const name = [card.firstName, card.lastName].filter(Boolean).join(" ");
  const contact = [card.phone, card.email].filter(Boolean).join(", ");
  return [name || "unnamed", contact ? ` (${contact})` : " (no phone or email)"].join("");
}

function mergeItem(ctx, view, merge) {
  const moved = merge.movedIdentifiers.length
    ? merge.movedIdentifiers.map((i) => `${i.type} ${i.type === "auth_user" ? "login" : i.value}`)
      .join(", ")
    : "no identifiers";
  return h(
    "li",
    { class: "card merge", "data-merge": merge.id },
    h(
      "h3",
      {},
      `Merge #${merge.id}: `,
      h("a", { href: `#/customer/${merge.mergedId}` }, shortId(merge.mergedId)),
      " into ",
      h("a", { href: `#/customer/${merge.survivorId}` }, shortId(merge.survivorId)),
    ),
    h(
      "p",
      {},
      when(merge.createdAt),
      " by ",
      actorText(merge.actor, ctx.session.user.id),
      ` via ${merge.source}. Reason: “${merge.reason}”. Moved ${moved} and `,
      count("order", merge.movedOrders),
      ".",
    ),
    merge.undone
      ? h(
        "p",
        { class: "notice" },
        "Undone ",
        when(merge.undone.at),
        " by ",
        actorText(merge.undone.actor, ctx.session.user.id),
        `. Reason: “${merge.undone.reason}”`,
        merge.undone.cascadedFrom ? ` (with merge #${merge.undone.cascadedFrom})` : "",
        ".",
      )
      : undoBlock(ctx, view, merge),
  );
}

function undoBlock(ctx, view, merge) {
  const undo = merge.undo;
  const restores = undo.restores;
  if (undo.customerErased) {
    return h("p", { class: "notice" }, "A person of this merge was erased: it cannot be undone.");
  }
  const later = undo.laterMerges || [];
  if (!undo.possible && later.length === 0) {
    return h(
      "p",
      { class: "notice" },
      "The accounts are no longer as this merge left them: it cannot be undone.",
    );
  }
  const what = h(
    "p",
    { class: "undo-text", id: `undo-text-${merge.id}` },
    `Undo restores account ${restores.account.id.slice(0, 8)} as it was before: ` +
      `${person(restores.account)}, with ${count("identifier", restores.identifiers)} and ` +
      `${count("order", restores.orders)} moved back to it. Account ` +
      `${restores.survivor.id.slice(0, 8)} returns to ${person(restores.survivor)}` +
      (restores.conflicts ? `, and ${count("conflict", restores.conflicts)} reopens.` : "."),
    later.length
      ? ` Later merges build on this one (${later.map((id) => `#${id}`).join(", ")}): ` +
        "they are undone first, newest first."
      : "",
  );
  const reasonId = `undo-reason-${merge.id}`;
  const reason = h("textarea", {
    id: reasonId,
    name: "reason",
    rows: "2",
    maxlength: "1000",
    required: true,
  });
  const form = h(
    "form",
    {
      class: "undo-form",
      hidden: true,
      onsubmit: async (event) => {
        event.preventDefault();
        if (!reason.value.trim()) {
          status("Write down why the merge was wrong: the reason goes on record.", "error");
          reason.focus();
          return;
        }
        confirmButton.disabled = true;
        status("Undoing…");
        try {
          const answer = await ctx.session.undoMerge(
            merge.id,
            later.length > 0,
            reason.value.trim(),
          );
          const accounts = answer.accounts.map((a) => a.id.slice(0, 8)).join(" and ");
          ctx.go(
            `#/customer/${view.customerId}`,
            `Undone: ${count("merge", answer.undoneMergeIds.length)} ` +
              `(${answer.undoneMergeIds.map((id) => `#${id}`).join(", ")}). Accounts ` +
              `${accounts} are separate again.`,
            "success",
          );
        } catch (error) {
          if (isForbidden(error)) return ctx.notAgent();
          status(describe(error), "error");
          confirmButton.disabled = false;
        }
      },
    },
    h("label", { for: reasonId }, `Why undo merge #${merge.id}? (kept on record)`),
    reason,
    h("div", { class: "actions" }),
  );
  const confirmButton = h(
    "button",
    { type: "submit", class: "danger" },
    later.length
      ? `Confirm: undo merges ${[...later, merge.id].map((id) => `#${id}`).join(", ")}`
      : `Confirm undo of merge #${merge.id}`,
  );
  const cancel = h("button", {
    type: "button",
    class: "secondary",
    onclick: () => {
      form.hidden = true;
      openButton.hidden = false;
      openButton.focus();
    },
  }, "Cancel");
  form.querySelector(".actions").append(confirmButton, cancel);
  const openButton = h(
    "button",
    {
      type: "button",
      class: "danger",
      "aria-describedby": `undo-text-${merge.id}`,
      onclick: () => {
        openButton.hidden = true;
        form.hidden = false;
        reason.focus();
      },
    },
    `Undo merge #${merge.id}…`,
  );
  return h("div", { class: "undo" }, what, openButton, form);
}

function conflicts(view) {
  return section(
    "conflicts-title",
    "Conflicts",
    view.conflicts.length
      ? table(
        "Conflicts these accounts were part of",
        ["Recorded", "Status", "Accounts", ""],
        view.conflicts.map((c) => [
          when(c.createdAt),
          h("span", { class: `badge badge-${c.status}` }, c.status.replace("_", " ")),
          h(
            "ul",
            { class: "plain" },
            c.accounts.map((a) =>
              h(
                "li",
                {},
                h("a", { href: `#/customer/${a.id}` }, shortId(a.id)),
                ` ${a.phone || a.email || ""}`,
              )
            ),
          ),
          h(
            "a",
            { href: `#/conflict/${c.id}` },
            "Open conflict ",
            h("span", { class: "visually-hidden" }, c.id.slice(0, 8)),
          ),
        ]),
      )
      : h("p", {}, "No conflicts."),
  );
}

function audit(view, me) {
  return section(
    "audit-title",
    "Audit trail",
    h(
      "details",
      {},
      h(
        "summary",
        {},
        `${view.auditEntries.length} ${view.auditEntries.length === 1 ? "entry" : "entries"}`,
      ),
      table(
        "Audit entries, newest first",
        ["When", "Action", "By", "Source", "Details"],
        view.auditEntries.map((a) => [
          when(a.occurredAt),
          a.action,
          actorText(a.actor, me),
          orDash(a.source),
          h("code", { class: "details" }, JSON.stringify(a.details)),
        ]),
      ),
    ),
  );
}
