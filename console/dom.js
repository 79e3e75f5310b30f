// Building the page: elements from data with textContent only (a customer's name is never
// parsed as HTML), and the formats every screen shares.

/** An element: h("a", {href: "#/queue"}, "Queue"). Attributes starting with "on" are
 * listeners; null and false attributes are left out; children may be strings, nodes,
 * arrays or null. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = value;
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else if (child instanceof Node) element.appendChild(child);
    else element.appendChild(document.createTextNode(String(child)));
  }
}

/** Replace everything inside ``element``. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** The first 8 characters of an id, with the whole id as a tooltip. */
export function shortId(id) {
  if (!id) return "";
  return h("code", { class: "id", title: String(id) }, String(id).slice(0, 8));
}

/** "3 h 12 min" from seconds. */
export function age(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  if (s < 60) return "under a minute";
  const minutes = Math.floor(s / 60) % 60;
  const hours = Math.floor(s / 3600) % 24;
  const days = Math.floor(s / 86400);
  if (days > 0) return `${days} d ${hours} h`;
  if (hours > 0) return `${hours} h ${minutes} min`;
  return `${minutes} min`;
}

const dateFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: "medium",
  timeStyle: "short",
});

/** A timestamp in the agent's locale and time zone, with the exact value as a tooltip. */
export function when(value) {
  if (!value) return h("span", { class: "muted" }, "—");
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return h("time", { datetime: value, title: value }, dateFormat.format(date));
}

/** "chatbot", "webapp" ... or a dash. */
export function orDash(value) {
  return value === null || value === undefined || value === ""
    ? h("span", { class: "muted" }, "—")
    : String(value);
}

/** A person's name from first and last name, or null. */
export function fullName(account) {
  const name = [account?.firstName, account?.lastName].filter(Boolean).join(" ");
  return name || null;
}

/** A table with a caption; rows are arrays of cells. Wrapped so it can scroll inside its
 * own box; on a phone each row becomes a block of labelled cells (data-label). */
export function table(caption, headings, rows, attributes = {}) {
  return h(
    "div",
    { class: "table-wrap", role: "region", "aria-label": caption, tabindex: "0" },
    h(
      "table",
      attributes,
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
      h(
        "tbody",
        {},
        rows.map((cells) =>
          h("tr", {}, cells.map((cell, i) => h("td", { "data-label": headings[i] }, cell)))
        ),
      ),
    ),
  );
}

/** A label and its value, for <dl> lists. */
export function pair(label, value) {
  return [h("dt", {}, label), h("dd", {}, value)];
}

/** Plural: count("identifier", 2) is "2 identifiers". */
export function count(word, n) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Who acted: the service role, or a user (you, when it is the signed-in agent). */
export function actorText(actor, me) {
  if (!actor) return "—";
  if (actor.role === "service_role") return "the service role";
  if (actor.userId) {
    return ["user ", shortId(actor.userId), actor.userId === me ? " (you)" : ""];
  }
  return actor.role;
}
