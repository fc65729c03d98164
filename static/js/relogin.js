// Renewing a lost session without leaving the checklist page (the queue stays on the tablet):
// a fresh CSRF token when the session is fine, or an in-place login as the queue's own author.
// The e-mail is fixed to that author, so the queue is only ever sent under the same person.

/** The checklist page at ``url`` parsed, if it is served to ``userId``: ``{csrf}`` or null. */
async function pageFor(response, userId) {
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const meta = page.querySelector('meta[name="csrf-token"]');
  const root = page.getElementById("checklist");
  if (!response.ok || !meta || !root || Number(root.dataset.user) !== userId) return { page, csrf: null };
  return { page, csrf: meta.content };
}

/** A fresh CSRF token from this page if the session is still the same person's, else null. */
export async function renewToken(userId) {
  try {
    return (await pageFor(await fetch(location.pathname, { credentials: "same-origin" }), userId)).csrf;
  } catch (e) {
    return null;
  }
}

/** Log ``email`` in again through the login form; resolves with the new CSRF token or throws. */
async function login(loginUrl, email, password, userId) {
  const form = new DOMParser().parseFromString(
    await (await fetch(loginUrl, { credentials: "same-origin" })).text(), "text/html");
  const token = form.querySelector('input[name="csrf_token"]');
  const body = new FormData();
  body.append("email", email);
  body.append("password", password);
  if (token) body.append("csrf_token", token.value);
  const next = encodeURIComponent(location.pathname);
  const response = await fetch(`${loginUrl}?next=${next}`, { method: "POST", body, credentials: "same-origin" });
  const { page, csrf } = await pageFor(response, userId);
  if (csrf) return csrf;
  const flash = page.querySelector(".flashes, .flash, [role=alert]");
  throw new Error(flash ? flash.textContent.trim() : "Not logged in: check the password");
}

/**
 * The "log in again" box after ``anchor``: ``show(needed)`` toggles it; a successful login calls
 * ``onToken(csrf)`` with the new session's CSRF token.
 */
export function loginBox(anchor, { loginUrl, email, userId, onToken }) {
  let box = null;
  function build() {
    box = document.createElement("form");
    box.className = "relogin";
    box.dataset.relogin = "";
    const shown = document.createElement("input");
    shown.type = "email"; shown.name = "email"; shown.readOnly = true;
    shown.value = email; shown.setAttribute("aria-label", "E-mail");
    const password = document.createElement("input");
    password.type = "password"; password.name = "password"; password.required = true;
    password.autocomplete = "current-password"; password.setAttribute("aria-label", "Password");
    password.placeholder = "Password";
    const go = document.createElement("button");
    go.type = "submit"; go.className = "button primary"; go.textContent = "Log in again";
    const message = document.createElement("span");
    message.dataset.reloginMessage = "";
    box.append(shown, password, go, message);
    box.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.textContent = "Logging in…";
      try {
        const csrf = await login(loginUrl, email, password.value, userId);
        message.textContent = "";
        password.value = "";
        await onToken(csrf);
      } catch (e) {
        message.textContent = e instanceof TypeError ? "Could not reach the server" : e.message;
      }
    });
    anchor.after(box);
  }
  return {
    show(needed) {
      if (!needed) { if (box) box.hidden = true; return; }
      if (!box) build();
      box.hidden = false;
    },
  };
}
