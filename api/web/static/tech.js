// The technician's phone view: sign in, my stops of a day in order, and one-tap status reports
// (each with an Idempotency-Key and If-Match of the visit's revision). Talks only to the mobile
// API (/api/v1/me/...).

import { account, api as call, catchAll, clock, dayLabel, h, ProblemError, showError, showNotice, SignedOut, signOut, today, Unreachable } from "/static/common.js";

// The status a technician may report next, as dispatch/field.py allows it.
const NEXT = {
  scheduled: ["en_route"],
  dispatched: ["en_route"],
  en_route: ["on_site", "failed"],
  on_site: ["completed", "failed"],
};
const STATUS = {
  unscheduled: "Not planned",
  scheduled: "Scheduled",
  dispatched: "Dispatched",
  en_route: "En route",
  on_site: "On site",
  completed: "Completed",
  failed: "Failed",
  cancelled: "Cancelled",
};
const ACTIVE = new Set(["en_route", "on_site"]);
const ACTIONS = {
  en_route: { label: "En route", hint: "Set off to this site" },
  on_site: { label: "On site", hint: "I have arrived" },
  completed: { label: "Completed", hint: "Add a work summary", form: { label: "Work summary", help: "What was done, in a sentence or two.", send: "Send: completed" } },
  failed: { label: "Failed", hint: "Could not finish", form: { label: "Reason", help: "Why the work could not be finished.", send: "Send: failed" } },
};
const POSITION_WAIT_MS = 8000;

const app = document.getElementById("app");
const bar = document.getElementById("bar");
const state = {
  user: null,
  // The day asked for (YYYY-MM-DD), or null: today in the technician's region (the server's default).
  date: dateFromUrl(),
  day: null,
  // The stop whose summary or reason form is open: {visit, status}.
  open: null,
  busy: false,
};

function dateFromUrl() {
  const asked = new URLSearchParams(location.search).get("date");
  return asked && /^\d{4}-\d{2}-\d{2}$/.test(asked) ? asked : null;
}

/** The timezone the day's times are shown in: the region's when the API names it, else the phone's. */
function zone() {
  if (state.day?.timezone) return { name: state.day.timezone, source: "your region" };
  return { name: Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC", source: "this phone's clock" };
}

function shift(isoDate, days) {
  const moment = new Date(`${isoDate}T00:00:00Z`);
  moment.setUTCDate(moment.getUTCDate() + days);
  return moment.toISOString().slice(0, 10);
}

function telephone(number) {
  return `tel:${number.replace(/[^\d+]/g, "")}`;
}

function offlineBanner(text) {
  const area = document.getElementById("messages");
  area.replaceChildren(
    h(
      "div",
      { class: "banner error" },
      h("strong", {}, "Cannot reach the server."),
      h("span", {}, ` ${text}`),
      h("button", { type: "button", class: "link", onclick: () => area.replaceChildren() }, "Dismiss"),
    ),
  );
}

function clearMessages() {
  document.getElementById("messages").replaceChildren();
}

/** What every failure becomes: a message, never a blank page. */
async function failed(error, sending) {
  if (error instanceof SignedOut) {
    showNotice("Your session has ended: please sign in again.");
    await begin();
    return;
  }
  if (error instanceof Unreachable) {
    offlineBanner(sending ? "Your last action was not sent. Check the connection and tap it again." : "Your day could not be loaded. Check the connection and try again.");
  } else {
    showError(error);
  }
  if (!state.day) {
    // Nothing on screen yet: say so, with a way to try again, instead of "Loading…" forever.
    const retry = () => (state.user ? load() : begin().catch((next) => failed(next, false)));
    app.replaceChildren(h("section", { class: "empty" }, h("p", {}, "Your day is not loaded yet."), h("button", { type: "button", class: "big", onclick: retry }, "Try again")));
  }
}

async function begin() {
  bar.hidden = true;
  state.day = null;
  state.user = await account(app, { title: "Technician sign-in", roles: ["technician"] });
  clearMessages();
  document.getElementById("bar-user").textContent = state.user.full_name || state.user.username;
  bar.hidden = false;
  await load();
}

async function load() {
  const path = state.date ? `/api/v1/me/day?date=${state.date}` : "/api/v1/me/day";
  try {
    state.day = (await call("GET", path)).body;
    render();
  } catch (error) {
    await failed(error, false);
  }
}

function go(date) {
  state.date = date;
  state.open = null;
  const url = new URL(location.href);
  if (date) url.searchParams.set("date", date);
  else url.searchParams.delete("date");
  history.replaceState(null, "", url);
  clearMessages();
  return load();
}

function dayNavigation(day, isToday) {
  const picker = h("input", { type: "date", id: "day-picker", value: day.date, required: true });
  picker.addEventListener("change", () => {
    if (/^\d{4}-\d{2}-\d{2}$/.test(picker.value)) go(picker.value);
  });
  return h(
    "nav",
    { class: "day-nav", "aria-label": "Choose the day" },
    h("button", { type: "button", class: "secondary", onclick: () => go(shift(day.date, -1)), "aria-label": `Previous day, ${dayLabel(shift(day.date, -1))}` }, "‹"),
    h("label", { for: "day-picker", class: "visually-hidden" }, "Day"),
    picker,
    h("button", { type: "button", class: "secondary", onclick: () => go(shift(day.date, 1)), "aria-label": `Next day, ${dayLabel(shift(day.date, 1))}` }, "›"),
    h("button", { type: "button", class: "secondary", onclick: () => go(null), disabled: isToday }, "Today"),
  );
}

function render() {
  const day = state.day;
  const tz = zone();
  const isToday = day.date === today(tz.name);
  const count = day.stops.length;
  const done = day.stops.filter((s) => ["completed", "failed", "cancelled"].includes(s.status)).length;
  const children = [
    dayNavigation(day, isToday),
    h("h1", { class: "day-title", id: "day-title" }, isToday ? `Today, ${dayLabel(day.date)}` : dayLabel(day.date)),
    h("p", { class: "day-summary" }, count ? `${count} ${count === 1 ? "stop" : "stops"}, ${done} done` : "", count ? " · " : "", h("span", { id: "zone-note" }, `Times in ${tz.name} (${tz.source})`)),
  ];
  if (!count) {
    children.push(
      h(
        "section",
        { class: "empty", "aria-labelledby": "empty-title" },
        h("h2", { id: "empty-title" }, `No visits planned for ${dayLabel(day.date)}.`),
        h("p", {}, "Nothing to do on this day. Look at another one:"),
        h("div", { class: "empty-actions" }, h("button", { type: "button", class: "big", onclick: () => go(shift(day.date, 1)) }, `Next day: ${dayLabel(shift(day.date, 1))}`), h("button", { type: "button", class: "big secondary", onclick: () => go(shift(day.date, -1)) }, `Previous day: ${dayLabel(shift(day.date, -1))}`)),
      ),
    );
  } else {
    const active = day.stops.some((s) => ACTIVE.has(s.status));
    const next = day.stops.find((s) => s.status in NEXT);
    children.push(h("ol", { class: "stops", "aria-label": "Stops in order" }, day.stops.map((stop, i) => stopCard(stop, i, tz.name, { active, next }))));
  }
  app.replaceChildren(...children);
}

/** The transitions offered on ``stop`` now: all the API allows, except setting off to a second
 * site while another visit is under way (the API would take it, but it is a slip of the thumb). */
function offered(stop, { active }) {
  const allowed = NEXT[stop.status] || [];
  if (active && !ACTIVE.has(stop.status)) return [];
  return allowed;
}

function stopCard(stop, index, timeZone, context) {
  const id = `stop-${stop.visit}`;
  const windows = [...new Set(stop.time_windows.map((w) => `${clock(w.starts_at, timeZone)}–${clock(w.ends_at, timeZone)}`))].join(", ");
  const skills = Object.entries(stop.skills);
  const primary = ACTIVE.has(stop.status) || stop === context.next;
  const actions = offered(stop, context);
  return h(
    "li",
    { class: `stop status-${stop.status}${primary && actions.length ? " current" : ""}`, dataset: { visit: stop.visit, status: stop.status } },
    h(
      "article",
      { "aria-labelledby": `${id}-title` },
      h(
        "div",
        { class: "stop-head" },
        h("span", { class: "seq" }, h("span", { class: "visually-hidden" }, "Stop "), String(index + 1)),
        h("span", { class: "planned" }, stop.planned_start ? `${clock(stop.planned_start, timeZone)}–${clock(stop.planned_end, timeZone)}` : "not timed"),
        h("span", { class: `pill status-${stop.status}`, "data-role": "status" }, STATUS[stop.status] || stop.status),
      ),
      h("h2", { id: `${id}-title`, tabindex: "-1" }, stop.site),
      h("p", { class: "code" }, `${stop.visit} · ${stop.duration_minutes} min`),
      h("p", { class: "job" }, stop.description),
      h(
        "dl",
        { class: "details" },
        ...detail("Address", stop.address),
        ...(stop.arrival_window ? detail("Customer told", `${clock(stop.arrival_window.starts_at, timeZone)}–${clock(stop.arrival_window.ends_at, timeZone)}`) : []),
        ...(windows ? detail("Site open", windows) : []),
        ...detail("Contact", stop.contact_phone ? `${stop.contact_name}, ${stop.contact_phone}` : `${stop.contact_name} (no phone)`),
        ...(stop.notes ? detail("Notes", h("span", { class: "notes" }, stop.notes)) : []),
        ...(skills.length ? detail("Skills", h("ul", { class: "skills" }, skills.map(([skill, level]) => h("li", {}, `${skill} · level ${level}+`)))) : []),
      ),
      h(
        "div",
        { class: "quick" },
        stop.contact_phone ? h("a", { class: "call", href: telephone(stop.contact_phone) }, `Call ${stop.contact_name.split(" ")[0]}`) : null,
        h("a", { class: "map", href: `geo:${stop.lat},${stop.lon}?q=${stop.lat},${stop.lon}` }, "Map"),
      ),
      actionsOf(stop, actions, primary),
    ),
  );
}

function detail(term, value) {
  return [h("dt", {}, term), h("dd", {}, value)];
}

function actionsOf(stop, actions, primary) {
  if (!actions.length) {
    const why = stop.status in NEXT ? "Finish your visit under way first." : null;
    return why ? h("p", { class: "no-actions" }, why) : null;
  }
  const open = state.open && state.open.visit === stop.visit ? state.open.status : null;
  const buttons = actions.map((status) =>
    h(
      "button",
      {
        type: "button",
        class: `big action action-${status}${primary ? "" : " secondary"}`,
        "aria-expanded": ACTIONS[status].form ? String(open === status) : null,
        onclick: () => (ACTIONS[status].form ? toggleForm(stop, status) : send(stop, status)),
      },
      h("span", { class: "action-label" }, ACTIONS[status].label),
      h("span", { class: "action-hint" }, ACTIONS[status].hint),
    ),
  );
  return h("div", { class: "actions", "aria-label": `Report on ${stop.visit}`, role: "group" }, ...buttons, open ? reportForm(stop, open) : null);
}

function toggleForm(stop, status) {
  const same = state.open && state.open.visit === stop.visit && state.open.status === status;
  state.open = same ? null : { visit: stop.visit, status };
  render();
  if (state.open) document.getElementById(`report-${stop.visit}`)?.focus();
}

function reportForm(stop, status) {
  const form = ACTIONS[status].form;
  const field = `report-${stop.visit}`;
  const text = h("textarea", { id: field, name: "summary", rows: "3", maxlength: "4000", required: true, "aria-describedby": `${field}-help` });
  const element = h(
    "form",
    { class: "report" },
    h("label", { for: field }, form.label),
    h("p", { id: `${field}-help`, class: "help" }, form.help),
    text,
    h("div", { class: "report-buttons" }, h("button", { type: "submit", class: `big action-${status}` }, form.send), h("button", { type: "button", class: "big secondary", onclick: () => toggleForm(stop, status) }, "Cancel")),
  );
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    const summary = text.value.trim();
    if (!summary) {
      text.setCustomValidity(`Please write the ${form.label.toLowerCase()}.`);
      text.reportValidity();
      return;
    }
    send(stop, status, summary, element);
  });
  text.addEventListener("input", () => text.setCustomValidity(""));
  return element;
}

/** The phone's position, if it gives one within a few seconds; otherwise null (none is sent). */
function position() {
  if (!("geolocation" in navigator)) return Promise.resolve(null);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), POSITION_WAIT_MS);
    navigator.geolocation.getCurrentPosition(
      (found) => {
        clearTimeout(timer);
        resolve({ lat: found.coords.latitude, lon: found.coords.longitude });
      },
      () => {
        clearTimeout(timer);
        resolve(null);
      },
      { enableHighAccuracy: false, timeout: POSITION_WAIT_MS - 500, maximumAge: 120000 },
    );
  });
}

function setBusy(card, busy, text) {
  for (const button of card?.querySelectorAll("button") || []) button.disabled = busy;
  if (card) card.setAttribute("aria-busy", String(busy));
  const note = card?.querySelector(".sending");
  if (busy && card && !note) card.querySelector(".actions")?.append(h("p", { class: "sending", role: "status" }, text));
  if (!busy) note?.remove();
}

async function send(stop, status, summary) {
  if (state.busy) return;
  state.busy = true;
  const card = app.querySelector(`li.stop[data-visit="${CSS.escape(stop.visit)}"]`);
  const body = { status };
  if (summary) body.summary = summary;
  let sent = false;
  try {
    if (status === "en_route") {
      setBusy(card, true, "Finding your position…");
      const where = await position();
      if (where) Object.assign(body, where);
    }
    setBusy(card, true, "Sending…");
    await call("POST", `/api/v1/me/visits/${encodeURIComponent(stop.visit)}/status`, { body, ifMatch: `"${stop.revision}"`, idempotent: true });
    sent = true;
    state.open = null;
    showNotice(`${stop.visit} (${stop.site}) is now ${STATUS[status].toLowerCase()}${body.lat !== undefined ? "; your position was sent" : ""}.`);
    await load();
    document.getElementById(`stop-${stop.visit}-title`)?.focus();
  } catch (error) {
    if (error instanceof ProblemError && (error.status === 409 || error.status === 412)) {
      // Someone (or another tap) changed the visit meanwhile: say so and show it as it is now.
      showError(error);
      state.open = null;
      await load();
    } else {
      await failed(error, !sent);
    }
  } finally {
    state.busy = false;
    if (card?.isConnected) setBusy(card, false);
  }
}

async function leave() {
  await signOut();
  state.user = null;
  state.open = null;
  showNotice("Signed out.");
  await begin();
}

catchAll();
document.getElementById("sign-out").addEventListener("click", leave);
begin().catch((error) => failed(error, false));
