// Finding a customer by phone or email. The kit normalises what the agent typed with the
// same SQL its RPC uses and matches it exactly; the answer lists the live accounts it
// leads to. What was typed stays on this screen (never in the address bar or history).

import { count, fullName, h, orDash, replace, shortId, when } from "./dom.js";
import { describe, isForbidden, status } from "./messages.js";

/** Render the search form into ``ctx.main``. */
export function renderSearch(ctx) {
  const phone = h("input", {
    id: "search-phone",
    name: "phone",
    type: "tel",
    autocomplete: "off",
    "aria-describedby": "search-help",
  });
  const email = h("input", {
    id: "search-email",
    name: "email",
    type: "text",
    inputmode: "email",
    autocomplete: "off",
    spellcheck: "false",
    "aria-describedby": "search-help",
  });
  const results = h("section", {
    id: "search-results",
    "aria-labelledby": "search-results-title",
    "aria-live": "polite",
  });
  const button = h("button", { type: "submit", class: "primary" }, "Search");

  const search = async () => {
    if (!phone.value.trim() && !email.value.trim()) {
      status("Type a phone number or an email address.", "error");
      phone.focus();
      return;
    }
    button.disabled = true;
    status("Searching…");
    try {
      const answer = await ctx.session.findCustomers(phone.value.trim(), email.value.trim());
      status("");
      replace(results, ...resultContent(answer));
    } catch (error) {
      if (isForbidden(error)) return ctx.notAgent();
      status(describe(error), "error");
      replace(results);
    } finally {
      button.disabled = false;
    }
  };

  replace(
    ctx.main,
    h("h1", { tabindex: "-1" }, "Find a customer"),
    h(
      "form",
      {
        class: "card search",
        onsubmit: (event) => {
          event.preventDefault();
          search();
        },
      },
      h(
        "div",
        { class: "fields" },
        h("div", {}, h("label", { for: "search-phone" }, "Phone"), phone),
        h("div", {}, h("label", { for: "search-email" }, "Email"), email),
      ),
      h(
        "p",
        { id: "search-help", class: "help" },
        "Any way the number is written ((555) 123-4567, +1 555 123 4567) or the email in any " +
          "case: the kit normalises it and matches exactly, never by similarity.",
      ),
      button,
    ),
    results,
  );
}

function resultContent(answer) {
  const searched = [
    answer.phone ? `phone ${answer.phone}` : null,
    answer.email ? `email ${answer.email}` : null,
  ].filter(Boolean).join(" or ");
  const title = h("h2", { id: "search-results-title" }, "Results");
  if (!searched) {
    return [title, h("p", {}, "That is a placeholder, not a phone or email: nothing matches it.")];
  }
  if (!answer.customers.length) {
    return [title, h("p", {}, `No account holds ${searched}.`)];
  }
  return [
    title,
    h("p", {}, `Accounts holding ${searched}:`),
    h(
      "ul",
      { class: "cards plain" },
      answer.customers.map((customer) =>
        h(
          "li",
          { class: "card", "data-customer": customer.id },
          h(
            "h3",
            {},
            h("a", { href: `#/customer/${customer.id}` }, fullName(customer) || "Unnamed account"),
            " ",
            shortId(customer.id),
          ),
          h(
            "p",
            {},
            orDash(customer.phone),
            " · ",
            orDash(customer.email),
            " · ",
            orDash(customer.source),
            ` · ${count("order", customer.orderCount)} · created `,
            when(customer.createdAt),
          ),
          h(
            "p",
            { class: "help" },
            "Matched by ",
            customer.matchedBy.map((m) =>
              m.status === "active" ? `its ${m.type}` : `a pending claim of this ${m.type}`
            ).join(" and "),
            ".",
          ),
        )
      ),
    ),
  ];
}
