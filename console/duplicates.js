// Possible duplicates: groups of accounts that are probably one person although no
// identifier ties them (an email a typo apart, a phone a digit apart, the same name), as the
// last `customer-management dedupe --suggest` (or refresh_possible_duplicates) found them.
// A group shows each pair's score and reasons; the agent picks the accounts that are one
// person, previews the merge (support_duplicate_merge_preview, which changes nothing) and
// merges them (undoable like any merge), or keeps the picked accounts apart from the rest
// (remembered: that pair is never proposed again).

import { fullName, h, orDash, replace, shortId, table } from "./dom.js";
import { describe, isForbidden, status } from "./messages.js";
import { accountChoice, previewContent } from "./conflict.js";

const PAGE_SIZE = 20;
const REASONS = {
  phone_one_digit_off: "phone one digit off",
  email_one_character_dropped_or_doubled: "email: one character dropped or doubled",
  email_one_character_moved: "email: one character moved",
  email_one_character_changed: "email: one character changed",
  emails_differ_in_digits_only: "(the emails differ in digits only)",
  same_name: "same name",
  names_swapped: "first and last name swapped",
  similar_names: "similar names",
  similar_names_swapped: "similar names, swapped",
  surname_missing: "surname missing on one",
  name_missing: "name missing on one",
  rare_name: "a rare name",
  different_emails: "their other emails differ",
  different_phones: "their phones differ",
};

/** The reasons of a pair in plain words. */
export function reasonText(reasons) {
  return reasons.map((reason) => REASONS[reason] || reason.replace(/_/g, " ")).join(", ");
}

function label(account) {
  return fullName(account) || account?.email || account?.phone || "Unnamed account";
}

/** Render the list of groups into ``ctx.main`` (after group ``after``, when given). */
export async function renderDuplicates(ctx, after) {
  let page;
  try {
    page = await ctx.session.possibleDuplicates(PAGE_SIZE, after);
  } catch (error) {
    if (isForbidden(error)) return ctx.notAgent();
    replace(
      ctx.main,
      h("h1", { tabindex: "-1" }, "Possible duplicates"),
      h("p", { class: "lead" }, describe(error)),
    );
    return;
  }
  const rows = page.groups.map((group) => {
    const names = group.accounts.map((a) => label(a)).join(" · ");
    return [
      h(
        "a",
        { href: `#/duplicates/group/${group.group}` },
        `Group ${group.group}`,
        h("span", { class: "visually-hidden" }, `: ${names}`),
      ),
      String(group.accounts.length),
      String(group.score),
      names,
      reasonText(group.pairs[0]?.reasons || []),
    ];
  });
  replace(
    ctx.main,
    h("h1", { tabindex: "-1" }, "Possible duplicates"),
    h(
      "p",
      { class: "lead", id: "duplicates-summary" },
      page.total
        ? `${page.total} groups found on ${orDash(page.refreshedAt?.slice(0, 10))}, strongest ` +
          "first. None is merged until you decide."
        : "No possible duplicates. A DBA finds them with customer-management dedupe --suggest.",
    ),
    rows.length
      ? table(
        "Groups of accounts that are probably one person",
        ["Group", "Accounts", "Best score", "Names", "Strongest reasons"],
        rows,
        { id: "duplicate-groups" },
      )
      : null,
    page.nextAfter !== null && page.nextAfter !== undefined
      ? h("p", {}, h("a", { href: `#/duplicates/after/${page.nextAfter}` }, "Next groups →"))
      : null,
  );
}

/** Render group ``groupNo``: its pairs, the accounts to merge or keep apart, the preview. */
export async function renderDuplicateGroup(ctx, groupNo) {
  let group;
  try {
    const page = await ctx.session.possibleDuplicates(1, groupNo - 1);
    group = page.groups.find((g) => g.group === groupNo);
  } catch (error) {
    if (isForbidden(error)) return ctx.notAgent();
    status(describe(error), "error");
    return;
  }
  if (!group) {
    replace(
      ctx.main,
      h("h1", { tabindex: "-1" }, `Group ${groupNo}`),
      h(
        "p",
        { class: "lead" },
        "Nothing of this group stands any more: its accounts were merged, kept apart or erased.",
      ),
      h("p", {}, h("a", { href: "#/duplicates" }, "Back to the possible duplicates")),
    );
    return;
  }
  const byId = Object.fromEntries(group.accounts.map((a) => [a.id, a]));
  const picked = new Set(group.accounts.map((a) => a.id));
  let survivorId = null;
  let chosenId = null;
  let asked = 0; // the latest preview asked for: an older answer arriving late is dropped
  const previewSection = h("section", {
    id: "merge-preview",
    "aria-labelledby": "merge-preview-title",
    "aria-live": "polite",
  });
  const choiceSection = h("div", { id: "survivor-choice" });
  const reason = h("textarea", {
    id: "duplicate-reason",
    name: "reason",
    rows: "3",
    maxlength: "1000",
    required: true,
    "aria-describedby": "duplicate-reason-help",
  });
  const mergeButton = h("button", { type: "submit", class: "danger", value: "merge" }, "Merge");
  const apartButton = h(
    "button",
    { type: "submit", class: "secondary", value: "apart" },
    "Keep apart",
  );

  const refresh = async () => {
    const ids = [...picked];
    mergeButton.disabled = ids.length < 2;
    apartButton.textContent = ids.length === group.accounts.length
      ? "Keep all apart (all different people)"
      : "Keep the picked accounts apart from the rest";
    if (ids.length < 2) {
      survivorId = null;
      replace(choiceSection);
      replace(
        previewSection,
        h("h2", { id: "merge-preview-title" }, "What the merge will do"),
        h("p", { class: "notice" }, "Pick at least two accounts to merge."),
      );
      return;
    }
    const ticket = ++asked;
    try {
      const preview = await ctx.session.duplicateMergePreview(
        ids,
        chosenId && picked.has(chosenId) ? chosenId : null,
      );
      if (ticket !== asked) return;
      survivorId = preview.survivorId;
      mergeButton.disabled = !preview.canMerge;
      mergeButton.textContent = preview.canMerge
        ? `Merge ${ids.length} accounts into ${label(byId[preview.survivorId])}`
        : "Merge";
      replace(
        choiceSection,
        accountChoice(preview, preview.canMerge, (id) => {
          chosenId = id;
          refresh();
        }),
      );
      replace(previewSection, ...previewContent(preview));
    } catch (error) {
      status(describe(error), "error");
    }
  };

  const act = async (action) => {
    if (!reason.value.trim()) {
      status("Write down why: the reason goes on record.", "error");
      reason.focus();
      return;
    }
    mergeButton.disabled = true;
    apartButton.disabled = true;
    status("Saving…");
    try {
      if (action === "merge") {
        const answer = await ctx.session.mergeDuplicates([...picked], survivorId, reason.value);
        ctx.go(
          `#/customer/${answer.customer.id}`,
          `Merged (merge ${answer.mergeIds.map((id) => `#${id}`).join(", ")}). This is the ` +
            "account that stayed; the merge can be undone below.",
          "success",
        );
      } else {
        const answer = await ctx.session.keepDuplicatesApart([...picked], reason.value);
        ctx.go(
          "#/duplicates",
          `Kept apart (${answer.keptApart} pairs): they are not proposed again.`,
          "success",
        );
      }
    } catch (error) {
      status(describe(error), "error");
      apartButton.disabled = false;
      refresh();
    }
  };

  const pairs = table(
    "Why these accounts look like one person",
    ["Accounts", "Score", "Reasons"],
    group.pairs.map((pair) => [
      h(
        "span",
        {},
        label(byId[pair.accountA]),
        " ",
        shortId(pair.accountA),
        " ~ ",
        label(byId[pair.accountB]),
        " ",
        shortId(pair.accountB),
      ),
      String(pair.score),
      reasonText(pair.reasons),
    ]),
    { id: "duplicate-pairs" },
  );
  const pickers = h(
    "fieldset",
    { class: "picks" },
    h("legend", {}, "Which accounts are one person?"),
    group.accounts.map((account) => {
      const id = `pick-${account.id}`;
      return h(
        "div",
        { class: "choice" },
        h("input", {
          type: "checkbox",
          id,
          value: account.id,
          checked: true,
          onchange: (event) => {
            if (event.target.checked) picked.add(account.id);
            else picked.delete(account.id);
            refresh();
          },
        }),
        h(
          "label",
          { for: id },
          label(account),
          " ",
          shortId(account.id),
          ": ",
          [account.email, account.phone].filter(Boolean).join(", ") || "no contact data",
        ),
      );
    }),
  );
  replace(
    ctx.main,
    h("p", { class: "crumbs" }, h("a", { href: "#/duplicates" }, "← Possible duplicates")),
    h("h1", { tabindex: "-1" }, `Possible duplicates: group ${group.group}`),
    h(
      "p",
      { class: "lead" },
      `${group.accounts.length} accounts, best score ${group.score}. No identifier ties them: ` +
        "check with the customer before merging.",
    ),
    pairs,
    h(
      "form",
      {
        class: "card resolve",
        onsubmit: (event) => {
          event.preventDefault();
          act(event.submitter?.value || "merge");
        },
      },
      pickers,
      choiceSection,
      h("label", { for: "duplicate-reason" }, "Reason (kept on record)"),
      reason,
      h(
        "p",
        { id: "duplicate-reason-help", class: "help" },
        'What you checked, for example "Same person: she confirmed both addresses". ' +
          "Keeping apart: the picked accounts are other people than the rest of the group " +
          "(pick all of them when all are different people).",
      ),
      h("div", { class: "actions" }, mergeButton, apartButton),
    ),
    previewSection,
  );
  await refresh();
}
