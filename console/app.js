// The support console: loads config.json, restores or asks for the agent's session, and
// shows one screen per address (#/queue, #/conflict/<id>, #/search, #/customer/<id>).
// A screen fetches only what it shows: nothing about a customer until the agent opens them.

import { h, replace } from "./dom.js";
import { loadConfig, restoreSession } from "./api.js";
import { status } from "./messages.js";
import { renderSignIn } from "./signin.js";
import { renderQueue } from "./queue.js";
import { renderConflict } from "./conflict.js";
import { renderSearch } from "./search.js";
import { renderCustomer } from "./customer.js";
import { renderDuplicateGroup, renderDuplicates } from "./duplicates.js";

const state = { config: null, session: null, flash: null };
const main = () => document.getElementById("main");

const ROUTES = [
  [/^#\/queue(?:\/([a-z_]+))?$/, (m, ctx) => renderQueue(ctx, m[1] || "open")],
  [/^#\/conflict\/([0-9a-f-]{36})$/, (m, ctx) => renderConflict(ctx, m[1])],
  [/^#\/search$/, (_m, ctx) => renderSearch(ctx)],
  [/^#\/customer\/([0-9a-f-]{36})$/, (m, ctx) => renderCustomer(ctx, m[1])],
  [/^#\/duplicates(?:\/after\/(\d+))?$/, (m, ctx) => renderDuplicates(ctx, m[1] ? +m[1] : null)],
  [/^#\/duplicates\/group\/(\d+)$/, (m, ctx) => renderDuplicateGroup(ctx, +m[1])],
];

/** What every screen gets: the session, the main element, navigation and sign-out. */
function context() {
  return {
    session: state.session,
    main: main(),
    go: (hash, message, kind) => {
      state.flash = message ? [message, kind] : null;
      navigate(hash);
    },
    notAgent: () => notAgent(),
  };
}

function header() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  if (!state.session) {
    nav.hidden = true;
    replace(who);
    return;
  }
  nav.hidden = false;
  for (const link of nav.querySelectorAll("a")) {
    const current = window.location.hash.startsWith(link.getAttribute("href"));
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  replace(
    who,
    h("span", { class: "agent" }, state.session.user.email || state.session.user.id || "agent"),
    h("button", { type: "button", class: "link", onclick: signOut }, "Sign out"),
  );
}

/** Show ``hash``: routed by the hashchange it causes, or at once when it is already shown. */
function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

async function signOut() {
  if (state.session) await state.session.signOut();
  state.session = null;
  state.flash = ["Signed out.", "info"];
  navigate("#/signin");
}

/** The session belongs to no support agent: say so, drop it, show nothing else. */
async function notAgent() {
  if (state.session) await state.session.signOut();
  state.session = null;
  header();
  replace(
    main(),
    h("h1", { tabindex: "-1" }, "Not a support agent"),
    h(
      "p",
      { class: "lead" },
      "This user may not use the support console: the kit answered forbidden. An admin " +
        'makes a user an agent by setting app_metadata.role to "support".',
    ),
    h("p", {}, h("a", { href: "#/signin" }, "Sign in as someone else")),
  );
  status("This user is not a support agent.", "error");
  focusHeading();
}

function showFlash() {
  if (!state.flash) return;
  status(...state.flash);
  state.flash = null;
}

function focusHeading() {
  const heading = main().querySelector("h1");
  if (heading) heading.focus({ preventScroll: false });
}

async function route() {
  const hash = window.location.hash || "#/queue";
  if (!state.session) {
    header();
    renderSignIn(main(), state.config, (session) => {
      state.session = session;
      state.flash = [`Signed in as ${session.user.email || session.user.id}.`, "success"];
      navigate(hash === "#/signin" ? "#/queue" : hash);
    });
    showFlash();
    focusHeading();
    return;
  }
  if (hash === "#/signin" || hash === "#/" || hash === "#") {
    window.location.hash = "#/queue";
    return;
  }
  header();
  for (const [pattern, render] of ROUTES) {
    const match = hash.match(pattern);
    if (match) {
      await render(match, context());
      if (state.session) {
        showFlash();
        focusHeading();
      }
      return;
    }
  }
  replace(
    main(),
    h("h1", { tabindex: "-1" }, "Not found"),
    h("p", {}, h("a", { href: "#/queue" }, "Back to the conflict queue")),
  );
  focusHeading();
}

async function start() {
  try {
    state.config = await loadConfig();
    state.session = await restoreSession(state.config);
  } catch (error) {
    replace(
      main(),
      h("h1", { tabindex: "-1" }, "The console is not set up"),
      h("p", { class: "lead" }, error.message),
    );
    status(error.message, "error");
    return;
  }
  // The skip link moves focus without touching the address (which holds the screen).
  document.querySelector(".skip")?.addEventListener("click", (event) => {
    event.preventDefault();
    main().focus();
  });
  window.addEventListener("hashchange", () => {
    status("");
    route();
  });
  document.body.dataset.ready = "true";
  route();
}

start();
