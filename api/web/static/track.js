// The customer's tracking page, after the server's first paint: polls the link's JSON view
// (every ?poll= seconds, default 20; at once when the page becomes visible again) and updates
// only the elements whose text or state changed. No sign-in: the token in the path is the key.

const HEADLINES = {
  unscheduled: "We are planning your visit",
  scheduled: "Your visit is scheduled",
  dispatched: "Your visit is scheduled",
  en_route: "Your technician is on the way",
  on_site: "Your technician is with you",
  completed: "Done: the visit is complete",
  failed: "The visit could not be finished; we will contact you",
  cancelled: "This visit was cancelled",
};
// Which step a status has reached (-1: none yet; 4: all done); absent: the steps stopped.
const STEP_OF = { unscheduled: -1, scheduled: 0, dispatched: 0, en_route: 1, on_site: 2, completed: 4 };
// Nothing changes any more after these.
const FINAL = new Set(["completed", "cancelled"]);
const DEFAULT_POLL_SECONDS = 20;

const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const seconds = pollSeconds();
let timer = null;
let inFlight = false;
let status = document.getElementById("track")?.dataset.status;

function pollSeconds() {
  const asked = Number(new URLSearchParams(location.search).get("poll"));
  return Number.isFinite(asked) && asked >= 1 ? Math.min(asked, 300) : DEFAULT_POLL_SECONDS;
}

function byId(id) {
  return document.getElementById(id);
}

/** Sets text only when it differs, so screen readers and layout see only real changes. */
function setText(id, text) {
  const element = byId(id);
  if (element && element.textContent !== text) element.textContent = text;
}

function show(id, visible) {
  const element = byId(id);
  if (element && element.hidden === visible) element.hidden = !visible;
}

function formatter(timeZone, options) {
  return new Intl.DateTimeFormat("en-GB", { timeZone, ...options });
}

function localDate(date, timeZone) {
  return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(date);
}

function clockOf(date, timeZone) {
  return formatter(timeZone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(date);
}

/** "today", "tomorrow" or "Fri 27 Nov", in the region's timezone (as the server says it). */
function dayOf(date, timeZone) {
  const days = Math.round((Date.parse(localDate(date, timeZone)) - Date.parse(localDate(new Date(), timeZone))) / 86400000);
  if (days === 0) return "today";
  if (days === 1) return "tomorrow";
  const parts = Object.fromEntries(formatter(timeZone, { weekday: "short", day: "numeric", month: "short" }).formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.weekday} ${parts.day} ${parts.month}`;
}

/** "Europe/Moscow time (UTC+03:00)", as the server renders it. */
function zoneOf(timeZone) {
  let offset = "UTC";
  try {
    const name = formatter(timeZone, { timeZoneName: "longOffset" }).formatToParts(new Date()).find((p) => p.type === "timeZoneName");
    offset = name.value === "GMT" ? "UTC+00:00" : name.value.replace("GMT", "UTC");
  } catch {
    // Older browsers without longOffset: the zone's name alone says enough.
  }
  return `${timeZone} time (${offset})`;
}

function stopsText(count) {
  if (count === 0) return "None: you are next";
  return count === 1 ? "1 visit" : `${count} visits`;
}

function renderSteps(state) {
  const reached = STEP_OF[state];
  for (const item of byId("steps").children) {
    const i = Number(item.dataset.step);
    let kind;
    if (reached === undefined) kind = "stopped";
    else if (i < reached) kind = "done";
    else if (i === reached) kind = "current";
    else kind = "todo";
    if (!item.classList.contains(kind)) {
      item.classList.remove("done", "current", "todo", "stopped");
      item.classList.add(kind);
    }
    if (kind === "current") item.setAttribute("aria-current", "step");
    else item.removeAttribute("aria-current");
  }
}

function render(view) {
  const zone = view.timezone;
  const main = byId("track");
  if (main.dataset.status !== view.status) main.dataset.status = view.status;
  setText("visit", view.visit);
  setText("headline", HEADLINES[view.status] || view.status);
  renderSteps(view.status);
  show("alert", view.status === "failed" || view.status === "cancelled");
  const hasWindow = Boolean(view.arrival_from && view.arrival_to);
  if (hasWindow) {
    const start = new Date(view.arrival_from);
    setText("window", `${clockOf(start, zone)}\u2013${clockOf(new Date(view.arrival_to), zone)}`);
    setText("window-day", dayOf(start, zone));
    setText("zone", zoneOf(zone));
  }
  show("fact-window", hasWindow);
  setText("technician", view.technician_first_name || "");
  show("fact-technician", Boolean(view.technician_first_name));
  const hasStops = view.stops_before !== null && view.stops_before !== undefined;
  if (hasStops) setText("stops", stopsText(view.stops_before));
  show("fact-stops", hasStops);
  setText("updated", clockOf(new Date(), zone));
  const title = `Visit ${view.visit} — ${HEADLINES[view.status] || view.status}`;
  if (document.title !== title) document.title = title;
  status = view.status;
}

function offline(text) {
  setText("offline", text);
  show("offline", Boolean(text));
}

function gone() {
  // The link expired while the page was open (12 hours after the visit ended).
  stop();
  setText("headline", "This link does not work any more");
  offline("The tracking link has expired. If your visit is still to come, please ask for a new link.");
  setText("live", "");
}

async function poll() {
  if (inFlight || !token) return;
  inFlight = true;
  try {
    const answer = await fetch(`/api/v1/track/${encodeURIComponent(token)}`, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (answer.status === 404) return gone();
    if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
    render(await answer.json());
    offline("");
    if (FINAL.has(status)) {
      stop();
      setText("live", "");
    }
  } catch {
    offline(`Cannot reach the server just now; showing the status of ${byId("updated").textContent}. Trying again…`);
  } finally {
    inFlight = false;
  }
}

function stop() {
  if (timer !== null) clearInterval(timer);
  timer = null;
}

function start() {
  stop();
  if (FINAL.has(status)) return;
  timer = setInterval(poll, seconds * 1000);
}

if (byId("track") && FINAL.has(status)) {
  setText("live", "");
} else if (byId("track")) {
  setText("live", seconds === 1 ? "· updates every second" : `· updates every ${seconds} s`);
  start();
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      poll();
      start();
    } else {
      // A phone in a pocket need not poll; the page catches up when it is looked at again.
      stop();
    }
  });
}
