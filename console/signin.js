// Signing the agent in: Supabase Auth's email and password on a hosted project, or an
// access token pasted from `customer-management token --support --email ...` on the local
// stack (which has no Auth server). Either way the page holds only the anon key and this
// agent's session.

import { h, replace } from "./dom.js";
import { signInWithPassword, signInWithToken } from "./api.js";
import { status } from "./messages.js";

/** Render the sign-in screen into ``main``; ``onSession`` receives the new session. */
export function renderSignIn(main, config, onSession) {
  const forms = [];
  if (config.signIn !== "token") forms.push(passwordForm(config, onSession));
  if (config.signIn !== "password") forms.push(tokenForm(config, onSession));
  replace(
    main,
    h("h1", { tabindex: "-1" }, "Sign in"),
    h(
      "p",
      { class: "lead" },
      'Support agents only: users whose app_metadata.role is "support".',
    ),
    h("div", { class: "signin" }, forms),
  );
}

function passwordForm(config, onSession) {
  const email = h("input", {
    id: "signin-email",
    name: "email",
    type: "email",
    autocomplete: "username",
    required: true,
  });
  const password = h("input", {
    id: "signin-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: true,
  });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  return h(
    "form",
    {
      class: "card",
      "aria-labelledby": "signin-password-title",
      onsubmit: async (event) => {
        event.preventDefault();
        button.disabled = true;
        status("Signing in…");
        try {
          onSession(await signInWithPassword(config, email.value.trim(), password.value));
        } catch (error) {
          status(error.message, "error");
        } finally {
          button.disabled = false;
          password.value = "";
        }
      },
    },
    h("h2", { id: "signin-password-title" }, "Email and password"),
    h("label", { for: "signin-email" }, "Email"),
    email,
    h("label", { for: "signin-password" }, "Password"),
    password,
    button,
  );
}

function tokenForm(config, onSession) {
  const token = h("textarea", {
    id: "signin-token",
    name: "token",
    rows: "4",
    required: true,
    spellcheck: "false",
    autocomplete: "off",
    "aria-describedby": "signin-token-help",
  });
  return h(
    "form",
    {
      class: "card",
      "aria-labelledby": "signin-token-title",
      onsubmit: (event) => {
        event.preventDefault();
        try {
          const session = signInWithToken(config, token.value);
          token.value = "";
          onSession(session);
        } catch (error) {
          status(error.message, "error");
        }
      },
    },
    h("h2", { id: "signin-token-title" }, "Access token"),
    h("label", { for: "signin-token" }, "Agent's access token"),
    token,
    h(
      "p",
      { id: "signin-token-help", class: "help" },
      "On the local stack: ",
      h("code", {}, "customer-management token --support --email agent@example.com"),
      " prints one. Never paste the service-role key.",
    ),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
}
