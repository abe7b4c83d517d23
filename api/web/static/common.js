// What every page shares: signing in, calling the JSON API with the bearer token (refreshed
// once when it expires), showing RFC 9457 problems as readable messages, and times in the
// region's timezone.

const TOKENS = "dispatch.tokens";

export class ProblemError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export class SignedOut extends Error {}

/** The server did not answer at all (offline, down): the action was not applied. */
export class Unreachable extends Error {
  constructor() {
    super("Cannot reach the server. Your last action was not sent; try again when you are back online.");
  }
}

async function request(path, init) {
  try {
    return await fetch(path, init);
  } catch {
    throw new Unreachable();
  }
}

/** A random key for Idempotency-Key; crypto.randomUUID exists only on HTTPS and localhost. */
export function randomKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function tokens() {
  try {
    return JSON.parse(sessionStorage.getItem(TOKENS)) || null;
  } catch {
    return null;
  }
}

function keep(pair) {
  if (pair) sessionStorage.setItem(TOKENS, JSON.stringify(pair));
  else sessionStorage.removeItem(TOKENS);
}

export function signedIn() {
  return tokens() !== null;
}

export async function signIn(username, password) {
  const form = new URLSearchParams({ username, password });
  const answer = await request("/api/v1/auth/token", { method: "POST", body: form });
  const body = await readBody(answer);
  if (!answer.ok) throw new ProblemError(answer.status, body);
  keep({ access: body.access_token, refresh: body.refresh_token });
  return me();
}

export async function signOut() {
  const pair = tokens();
  keep(null);
  if (pair) {
    // Revoking is a courtesy; the page signs out whether or not the server answers.
    await fetch("/api/v1/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: pair.refresh }),
    }).catch(() => {});
  }
}

async function refreshed() {
  const pair = tokens();
  if (!pair) return false;
  const answer = await request("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: pair.refresh }),
  });
  if (!answer.ok) {
    keep(null);
    return false;
  }
  const body = await answer.json();
  keep({ access: body.access_token, refresh: body.refresh_token });
  return true;
}

async function readBody(answer) {
  const type = answer.headers.get("Content-Type") || "";
  if (answer.status === 204) return null;
  if (type.includes("json")) return answer.json();
  return answer.text();
}

/**
 * Calls the API. Options: body (sent as JSON), ifMatch (an ETag), idempotent (adds a fresh
 * Idempotency-Key, so a retried click applies once), raw (return the Response).
 * Resolves to {status, body, etag}; throws ProblemError for an error answer and SignedOut
 * when no valid token is left.
 */
export async function api(method, path, options = {}) {
  const send = async () => {
    const pair = tokens();
    if (!pair) throw new SignedOut("not signed in");
    const headers = { Authorization: `Bearer ${pair.access}`, Accept: "application/json" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (options.ifMatch) headers["If-Match"] = options.ifMatch;
    if (options.idempotent) headers["Idempotency-Key"] = randomKey();
    return request(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  };
  let answer = await send();
  if (answer.status === 401 && (await refreshed())) answer = await send();
  if (answer.status === 401) {
    keep(null);
    throw new SignedOut("signed out");
  }
  if (options.raw) return answer;
  const body = await readBody(answer);
  if (!answer.ok) throw new ProblemError(answer.status, typeof body === "object" ? body : { detail: body });
  return { status: answer.status, body, etag: answer.headers.get("ETag") };
}

export async function me() {
  return (await api("GET", "/api/v1/me")).body;
}

/** Makes an element with attributes and children; text is always set as text, never HTML. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** The page's message area (role=alert): problems with the fields and values they name. */
export function showError(error) {
  const area = document.getElementById("messages");
  if (!area) return;
  let lines;
  if (error instanceof ProblemError) {
    const problem = error.problem || {};
    lines = [
      h("strong", {}, problem.title || `Error ${error.status}`),
      problem.detail ? h("span", {}, ` ${problem.detail}`) : null,
      Array.isArray(problem.errors) && problem.errors.length
        ? h(
            "ul",
            {},
            problem.errors.map((e) =>
              h("li", {}, `${e.field ?? e.loc ?? "?"}: ${e.message ?? e.msg ?? ""}${e.value !== undefined ? ` (got ${JSON.stringify(e.value)})` : ""}`),
            ),
          )
        : null,
    ];
  } else if (error instanceof Unreachable) {
    lines = [h("strong", {}, error.message)];
  } else {
    lines = [h("strong", {}, "Something went wrong."), h("span", {}, ` ${error.message || error}`)];
  }
  area.replaceChildren(h("div", { class: "banner error" }, ...lines, h("button", { type: "button", class: "link", onclick: () => area.replaceChildren() }, "Dismiss")));
}

export function showNotice(text) {
  const area = document.getElementById("messages");
  if (area) area.replaceChildren(h("div", { class: "banner notice", role: "status" }, text));
}

/** A blank page is the worst answer: uncaught errors become a visible message. */
export function catchAll() {
  window.addEventListener("error", (event) => showError(event.error || event.message));
  window.addEventListener("unhandledrejection", (event) => showError(event.reason));
}

// Building an Intl formatter costs far more than formatting with one, and a board formats
// thousands of times per render: one formatter per kind and timezone, kept.
const formats = new Map();

function formatter(key, locale, options) {
  let format = formats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(locale, options);
    formats.set(key, format);
  }
  return format;
}

/** "14:05" in ``timeZone`` (the region's, not the browser's); ``instant``: ISO text or ms. */
export function clock(instant, timeZone) {
  if (!instant) return "";
  const format = formatter(`clock ${timeZone}`, "en-GB", { timeZone, hour: "2-digit", minute: "2-digit" });
  return format.format(typeof instant === "number" ? instant : new Date(instant));
}

/** "Fri 27 Nov" for a local date (YYYY-MM-DD). */
export function dayLabel(isoDate) {
  // A local date has no timezone: format it as UTC midnight so it cannot shift a day.
  const format = formatter("day", "en-GB", { timeZone: "UTC", weekday: "short", day: "numeric", month: "short" });
  return format.format(new Date(`${isoDate}T00:00:00Z`));
}

/** Today's date (YYYY-MM-DD) in ``timeZone``. */
export function today(timeZone) {
  return formatter(`date ${timeZone}`, "en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date());
}

/**
 * A labelled sign-in form in ``container``; resolves with the signed-in account once the
 * server accepts the password. ``roles`` limits who may use this page.
 */
export function signInForm(container, { title, roles }) {
  return new Promise((resolve) => {
    const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
    const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
    const form = h(
      "form",
      { class: "sign-in", "aria-labelledby": "sign-in-title" },
      h("h1", { id: "sign-in-title" }, title),
      h("label", { for: "username" }, "Username"),
      username,
      h("label", { for: "password" }, "Password"),
      password,
      h("button", { type: "submit" }, "Sign in"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const account = await signIn(username.value.trim(), password.value);
        if (roles && !roles.includes(account.role)) {
          await signOut();
          showNotice(`This page is for ${roles.join(" or ")} accounts; ${account.username} is signed in as ${account.role}.`);
          return;
        }
        container.replaceChildren();
        resolve(account);
      } catch (error) {
        showError(error);
      }
    });
    container.replaceChildren(form);
    username.focus();
  });
}

/** The signed-in account, asking for a password first when needed. */
export async function account(container, options) {
  if (signedIn()) {
    try {
      const found = await me();
      if (!options.roles || options.roles.includes(found.role)) return found;
      await signOut();
    } catch (error) {
      if (!(error instanceof SignedOut)) throw error;
    }
  }
  return signInForm(container, options);
}
