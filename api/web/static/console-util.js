// What the console's screens share: the region's timezone arithmetic, the URL hash that keeps
// the chosen region, day and view, readable numbers, and turning failures into messages.
import { ProblemError, SignedOut, h, showError } from "/static/common.js";

const SVG = "http://www.w3.org/2000/svg";
const partsFormats = new Map();

function partsFormat(timeZone) {
  let format = partsFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    partsFormats.set(timeZone, format);
  }
  return format;
}

function localParts(ms, timeZone) {
  const found = {};
  for (const part of partsFormat(timeZone).formatToParts(new Date(ms))) found[part.type] = Number(part.value);
  return found;
}

/** Milliseconds to add to a UTC instant to read it as wall-clock time in ``timeZone``. */
export function offsetMs(ms, timeZone) {
  const p = localParts(ms, timeZone);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - (ms - (((ms % 1000) + 1000) % 1000));
}

/** The local date (YYYY-MM-DD) of an instant in ``timeZone``. */
export function localDate(instant, timeZone) {
  const ms = typeof instant === "number" ? instant : Date.parse(instant);
  const p = localParts(ms, timeZone);
  return `${p.year}-${String(p.month).padStart(2, "0")}-${String(p.day).padStart(2, "0")}`;
}

/** The UTC instant (ms) of a local wall-clock time on ``isoDate`` in ``timeZone``. */
export function zonedTime(isoDate, minutes, timeZone) {
  const [y, m, d] = isoDate.split("-").map(Number);
  const wall = Date.UTC(y, m - 1, d, 0, minutes);
  let guess = wall - offsetMs(wall, timeZone);
  guess = wall - offsetMs(guess, timeZone);
  return guess;
}

/** The instant's local hour, floored (ms). */
export function floorLocalHour(ms, timeZone) {
  const local = ms + offsetMs(ms, timeZone);
  return ms - (((local % 3_600_000) + 3_600_000) % 3_600_000);
}

export function addDays(isoDate, days) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** "GMT+3" for ``timeZone`` on ``isoDate``. */
export function offsetName(timeZone, isoDate) {
  const at = isoDate ? zonedTime(isoDate, 12 * 60, timeZone) : Date.now();
  const part = new Intl.DateTimeFormat("en-GB", { timeZone, timeZoneName: "shortOffset" })
    .formatToParts(new Date(at))
    .find((p) => p.type === "timeZoneName");
  return part ? part.value : "";
}

/** "Friday 27 November 2026" for a local date. */
export function longDay(isoDate) {
  return new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", weekday: "long", day: "numeric", month: "long", year: "numeric" }).format(
    new Date(`${isoDate}T00:00:00Z`),
  );
}

/** ISO week label ("2026-W48") of a local date, as the quota report names weekly periods. */
export function isoWeek(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  const day = new Date(Date.UTC(y, m - 1, d));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((day - yearStart) / 86_400_000 + 1) / 7);
  return `${day.getUTCFullYear()}-W${String(week).padStart(2, "0")}`;
}

export function hours(minutes) {
  return `${(minutes / 60).toFixed(1)} h`;
}

export function km(metres) {
  return `${(metres / 1000).toFixed(1)} km`;
}

export function percent(share) {
  return share === null || share === undefined ? "–" : `${Math.round(share * 100)}%`;
}

/** "displaced_by_higher_priority" -> "Displaced by higher priority". */
export function humanise(word) {
  const text = String(word || "").replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export const STATUS_LABELS = {
  unscheduled: "unscheduled",
  scheduled: "scheduled",
  dispatched: "dispatched",
  en_route: "en route",
  on_site: "on site",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
};

// The URL hash keeps what the dispatcher chose, so a reload (or a shared link) shows it again.
export function readHash() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  return { region: params.get("region"), date: params.get("date"), view: params.get("view") };
}

export function writeHash({ region, date, view }) {
  const params = new URLSearchParams();
  if (view && view !== "day") params.set("view", view);
  if (region) params.set("region", region);
  if (date) params.set("date", date);
  const hash = `#${params.toString()}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
}

export function isIsoDate(text) {
  return typeof text === "string" && /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(Date.parse(`${text}T00:00:00Z`));
}

/** An SVG element with attributes (never HTML). */
export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    element.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A small icon: "late" (warning triangle) or "pin" (push pin), drawn, not a font glyph. */
const ICONS = {
  late: () =>
    svg(
      "svg",
      { class: "icon icon-late", viewBox: "0 0 16 16", width: 14, height: 14, "aria-hidden": "true", focusable: "false" },
      svg("path", { d: "M8 1.2 15.2 14.6H.8Z", class: "icon-late-body" }),
      svg("path", { d: "M8 5.6v4.4M8 11.6v1.3", class: "icon-late-mark" }),
    ),
  pin: () =>
    svg(
      "svg",
      { class: "icon icon-pin", viewBox: "0 0 16 16", width: 14, height: 14, "aria-hidden": "true", focusable: "false" },
      svg("path", { d: "M5.2 1.5h5.6l-.9 4.6 2.6 2.7v1.2H3.5V8.8l2.6-2.7Z", class: "icon-pin-head" }),
      svg("path", { d: "M8 10v5", class: "icon-pin-needle" }),
    ),
};
const iconCache = new Map();

export function icon(name) {
  if (!iconCache.has(name)) iconCache.set(name, ICONS[name]());
  return iconCache.get(name).cloneNode(true);
}

/** Shows a failure as a readable message; a lost session goes back to the sign-in form. */
export function report(error) {
  if (error instanceof SignedOut) {
    location.reload();
    return;
  }
  if (error instanceof TypeError && !(error instanceof ProblemError)) {
    showError(new Error(`the server could not be reached (${error.message}); check the connection and try again`));
    return;
  }
  showError(error);
}

/** An empty or failed state in a panel: a sentence, never a blank box. */
export function emptyState(text, ...more) {
  return h("p", { class: "empty" }, text, ...more);
}

export function problemText(error) {
  if (error instanceof ProblemError) return error.problem?.detail || error.problem?.title || error.message;
  return error?.message || String(error);
}
