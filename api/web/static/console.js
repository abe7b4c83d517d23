// The dispatcher console: signs a dispatcher (or admin) in, keeps the chosen region, day and view
// in the URL hash, and shows one of three screens: the day board, the week and request intake.
import { account, api, catchAll, h, signOut, today } from "/static/common.js";
import { showDay } from "/static/console-board.js";
import { showRegister } from "/static/console-register.js";
import { addDays, isIsoDate, localDate, offsetName, readHash, report, writeHash } from "/static/console-util.js";
import { showWeek } from "/static/console-week.js";

catchAll();

const VIEWS = [
  { id: "day", label: "Day board" },
  { id: "week", label: "Week" },
  { id: "register", label: "Register request" },
];

const main = document.getElementById("app");
// The skip link focuses the content without touching the hash (which holds region and day).
document.querySelector(".skip-link")?.addEventListener("click", (event) => {
  event.preventDefault();
  main.focus();
});
const topbar = document.getElementById("topbar");
const nav = document.getElementById("views");
const user = await account(main, { title: "Dispatcher console", roles: ["dispatcher", "admin"] });

/** What every screen reads and changes: the state, and how to move to another one. */
const ctx = {
  user,
  // preview: the id of a plan the day board shows instead of the routes in force (a draft).
  state: { regions: [], region: null, date: null, view: "day", selected: null, preview: null },
  job: null,
  generation: 0,
  /** A number that stays current until the screen is shown again: late answers are dropped. */
  token() {
    ctx.generation += 1;
    return ctx.generation;
  },
  current(token) {
    return token === ctx.generation;
  },
  go,
  refresh: () => show(),
};

const controls = {};

function shell() {
  controls.region = h("select", { id: "region", name: "region", onchange: () => go({ region: controls.region.value, selected: null }) });
  controls.date = h("input", {
    id: "day",
    name: "day",
    type: "date",
    required: true,
    onchange: () => {
      if (isIsoDate(controls.date.value)) go({ date: controls.date.value, selected: null });
    },
  });
  const step = (days, label, text) =>
    h("button", { type: "button", class: "secondary step", "aria-label": label, title: label, onclick: () => go({ date: addDays(ctx.state.date, days), selected: null }) }, text);
  controls.zone = h("span", { class: "zone", id: "zone" });
  topbar.replaceChildren(
    h("div", { class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, "FD"), h("span", {}, h("strong", {}, "Field Dispatch"), h("span", { class: "brand-sub" }, "Dispatcher console"))),
    h(
      "div",
      { class: "pickers", role: "group", "aria-label": "Region and day" },
      h("label", { for: "region" }, "Region"),
      controls.region,
      h("label", { for: "day" }, "Day"),
      step(-1, "Previous day", "‹"),
      controls.date,
      step(1, "Next day", "›"),
      h("button", { type: "button", class: "secondary", onclick: () => go({ date: today(ctx.state.region.timezone), selected: null }) }, "Today"),
      controls.zone,
    ),
    h(
      "div",
      { class: "who-am-i" },
      h("span", {}, user.full_name || user.username, h("span", { class: "role" }, ` (${user.role})`)),
      h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: async () => {
            await signOut();
            location.reload();
          },
        },
        "Sign out",
      ),
    ),
  );
  controls.tabs = VIEWS.map((view) =>
    h(
      "a",
      {
        href: "#",
        class: "tab",
        dataset: { view: view.id },
        onclick: (event) => {
          event.preventDefault();
          go({ view: view.id });
        },
      },
      view.label,
    ),
  );
  nav.replaceChildren(h("ul", {}, controls.tabs.map((tab) => h("li", {}, tab))));
  topbar.hidden = false;
  nav.hidden = false;
}

function syncControls() {
  const { state } = ctx;
  controls.region.value = state.region.code;
  controls.date.value = state.date;
  controls.zone.textContent = `Times in ${state.region.timezone} (${offsetName(state.region.timezone, state.date)})`;
  for (const tab of controls.tabs) {
    const view = tab.dataset.view;
    tab.href = `#${new URLSearchParams({ ...(view === "day" ? {} : { view }), region: state.region.code, date: state.date })}`;
    if (view === state.view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
}

/** The first day from today on with planned or open work in the region, else today. */
async function defaultDate(region) {
  const now = today(region.timezone);
  const query = new URLSearchParams({ region: region.code, limit: "500", sort: "due_date" });
  for (const status of ["unscheduled", "scheduled", "dispatched", "en_route", "on_site"]) query.append("status", status);
  const { body } = await api("GET", `/api/v1/visits?${query}`);
  let best = null;
  for (const visit of body.items) {
    let day;
    if (visit.planned_start) {
      day = localDate(visit.planned_start, region.timezone);
      if (day < now) continue;
    } else {
      if (visit.due_date < now) continue;
      day = visit.earliest_date > now ? visit.earliest_date : now;
    }
    if (best === null || day < best) best = day;
  }
  return best || now;
}

async function go(changes) {
  const { state } = ctx;
  // A plan covers its own region and days: another day or region shows the routes in force.
  if (("region" in changes || "date" in changes) && !("preview" in changes)) state.preview = null;
  Object.assign(state, changes);
  if (typeof changes.region === "string") state.region = state.regions.find((r) => r.code === changes.region) || state.regions[0];
  writeHash({ region: state.region.code, date: state.date, view: state.view });
  await show();
}

async function show() {
  syncControls();
  const { view } = ctx.state;
  document.title = `${VIEWS.find((v) => v.id === view).label} · ${ctx.state.region.code} · Field Dispatch`;
  try {
    if (view === "week") await showWeek(ctx, main);
    else if (view === "register") await showRegister(ctx, main);
    else await showDay(ctx, main);
  } catch (error) {
    report(error);
  }
}

async function fromHash() {
  const { state } = ctx;
  const wanted = readHash();
  state.view = VIEWS.some((v) => v.id === wanted.view) ? wanted.view : "day";
  const region = state.regions.find((r) => r.code === wanted.region) || state.region || state.regions[0];
  const regionChanged = region !== state.region;
  if (regionChanged || (isIsoDate(wanted.date) && wanted.date !== state.date)) state.preview = null;
  state.region = region;
  if (isIsoDate(wanted.date)) state.date = wanted.date;
  else if (!state.date || regionChanged) state.date = await defaultDate(region);
  writeHash({ region: state.region.code, date: state.date, view: state.view });
  await show();
}

async function start() {
  main.replaceChildren(h("p", { class: "loading" }, "Loading regions…"));
  const { body } = await api("GET", "/api/v1/regions?limit=500");
  ctx.state.regions = body.items;
  if (!body.items.length) {
    main.replaceChildren(h("h1", {}, "No regions yet"), h("p", { class: "empty" }, "An admin creates regions (POST /api/v1/regions) before anything can be planned."));
    return;
  }
  shell();
  controls.region.replaceChildren(...body.items.map((r) => h("option", { value: r.code }, `${r.name} (${r.code})`)));
  window.addEventListener("hashchange", () => fromHash().catch(report));
  await fromHash();
}

start().catch((error) => {
  report(error);
  main.replaceChildren(
    h("h1", {}, "The console could not start"),
    h("p", { class: "empty" }, "The regions could not be loaded. ", h("button", { type: "button", onclick: () => location.reload() }, "Try again")),
  );
});
