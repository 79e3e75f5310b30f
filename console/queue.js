// The conflict queue: conflicts of one status, oldest first, with their age, how often
// requests met them, what tied the accounts and the accounts themselves (the contact data
// that tied them). Opening one shows its merge preview.

import { age, count, h, orDash, replace, shortId, table, when } from "./dom.js";
import { describe, isForbidden, status } from "./messages.js";

const PAGE_SIZE = 25;
const STATUSES = [
  ["open", "Open"],
  ["escalated", "Escalated"],
  ["kept_separate", "Kept separate"],
  ["merged", "Merged"],
  ["outdated", "Outdated"],
];

/** Render the queue of ``queueStatus`` into ``ctx.main``. */
export async function renderQueue(ctx, queueStatus) {
  const known = STATUSES.some(([value]) => value === queueStatus);
  const current = known ? queueStatus : "open";
  const picker = h(
    "select",
    {
      id: "queue-status",
      name: "status",
      onchange: (event) => ctx.go(`#/queue/${event.target.value}`),
    },
    STATUSES.map(([value, label]) => h("option", { value, selected: value === current }, label)),
  );
  const summary = h("p", { class: "lead", id: "queue-summary" }, "Loading…");
  const body = h("div", { id: "queue-rows" });
  replace(
    ctx.main,
    h("h1", { tabindex: "-1" }, "Conflict queue"),
    h(
      "form",
      { class: "toolbar", onsubmit: (event) => event.preventDefault() },
      h("label", { for: "queue-status" }, "Show"),
      picker,
    ),
    summary,
    body,
  );

  let rows = [];
  const load = async (after) => {
    let page;
    try {
      page = await ctx.session.conflictQueue(current, PAGE_SIZE, after);
    } catch (error) {
      if (isForbidden(error)) return ctx.notAgent();
      replace(summary, "The queue could not be loaded.");
      status(describe(error), "error");
      return;
    }
    rows = rows.concat(page.conflicts);
    const label = STATUSES.find(([value]) => value === current)[1].toLowerCase();
    replace(
      summary,
      page.total === 0
        ? `No ${label} conflicts.`
        : `${count(`${label} conflict`, page.total)}, oldest first. Showing ${rows.length}.`,
    );
    replace(body, rows.length ? queueTable(rows, current) : null);
    if (page.nextAfter) {
      body.appendChild(
        h(
          "button",
          {
            type: "button",
            class: "secondary",
            onclick: (event) => {
              event.target.disabled = true;
              load(page.nextAfter);
            },
          },
          "Load more",
        ),
      );
    }
  };
  await load(null);
}

function queueTable(conflicts, queueStatus) {
  const settled = !["open", "escalated"].includes(queueStatus);
  return table(
    "Conflicts",
    ["Age", "Seen", "Tied by", "Accounts", settled ? "Settled" : "Action"],
    conflicts.map((conflict) => [
      h("span", { title: conflict.createdAt }, age(conflict.ageSeconds)),
      `${conflict.occurrences}×`,
      (conflict.identifierTypes || []).join(", ") || "—",
      h("ul", { class: "plain" }, (conflict.accounts || []).map(accountLine)),
      [
        settled ? when(conflict.resolvedAt) : null,
        settled ? " " : null,
        h(
          "a",
          {
            href: `#/conflict/${conflict.id}`,
            class: settled ? null : "button",
            "data-conflict": conflict.id,
          },
          settled ? "View" : "Resolve",
          h("span", { class: "visually-hidden" }, ` conflict ${conflict.id.slice(0, 8)}`),
        ),
      ],
    ]),
    { class: "queue" },
  );
}

function accountLine(account) {
  return h(
    "li",
    {},
    shortId(account.id),
    " ",
    orDash(account.phone || account.email),
    account.phone && account.email ? ` · ${account.email}` : null,
    h("span", { class: "muted" }, ` · ${account.source || "unknown channel"}`),
  );
}
