// The day board: one region's day loaded in one go (board, routes, plan, unassigned and open
// visits, technicians' skills, fetched in parallel) and drawn in one pass: the plan bar, a
// timeline per technician, the routes map and the side panels; the SLA and quota reports
// follow once it is drawn. The day is the routes in force, or a plan's preview (a draft).
import { api, clock, h, ProblemError } from "/static/common.js";
import { routesMap } from "/static/console-map.js";
import { enableDrag, movePanel, selectVisit } from "/static/console-moves.js";
import { quotaPanel, slaPanel, unassignedPanel } from "/static/console-panels.js";
import { planBar } from "/static/console-plan.js";
import { planQuery, previewBanner, skillWords } from "/static/console-preview.js";
import { floorLocalHour, hours, icon, isoWeek, km, longDay, offsetName, percent, report, STATUS_LABELS, zonedTime } from "/static/console-util.js";

const TIERS = ["platinum", "gold", "silver", "bronze"];
const SHOWN_STATUSES = ["scheduled", "dispatched", "en_route", "on_site", "completed", "failed"];

/** Resolves to {ok, value} or {ok: false, error}: a side panel may fail without the board. */
function settle(promise) {
  return promise.then(
    (answer) => ({ ok: true, value: answer.body }),
    (error) => ({ ok: false, error }),
  );
}

/** Loads and draws the region's day into ``container``; sets body data-board-state (and
 * data-board-rendered-ms: from the start of the load, fetches included, to the board drawn). */
export async function showDay(ctx, container) {
  const started = performance.now();
  const token = ctx.token();
  const { region, date } = ctx.state;
  const body = document.body;
  body.dataset.boardState = "loading";
  delete body.dataset.boardRenderedMs;
  container.setAttribute("aria-busy", "true");
  if (!container.querySelector(".day")) container.replaceChildren(h("p", { class: "loading" }, `Loading ${region.name} for ${longDay(date)}…`));
  const code = encodeURIComponent(region.code);
  const day = `date=${date}`;
  const shown = `${day}${planQuery(ctx)}`;
  const open = new URLSearchParams({ region: region.code, status: "unscheduled", open_on: date, limit: "500", sort: "due_date,-priority" });
  const plans = new URLSearchParams({ region: region.code, starts_on: date, limit: "10" });
  let loaded;
  try {
    loaded = await Promise.all([
      api("GET", `/api/v1/regions/${code}/board?${shown}`).then((a) => a.body),
      api("GET", `/api/v1/regions/${code}/routes.geojson?${shown}`).then((a) => a.body),
      api("GET", `/api/v1/regions/${code}/unassigned?${shown}`).then(
        (a) => a.body,
        (error) => {
          if (error instanceof ProblemError && error.status === 404) return null; // no plan yet
          throw error;
        },
      ),
      api("GET", `/api/v1/visits?${open}`).then((a) => a.body.items),
      api("GET", `/api/v1/plans?${plans}`).then((a) => a.body.items.find((p) => p.status !== "failed") || null),
      // Technicians' skills only warn while dragging: the board does without them.
      api("GET", `/api/v1/technicians?region=${code}&limit=500`).then(
        (a) => new Map(a.body.items.map((t) => [t.code, t.skills])),
        () => null,
      ),
    ]);
  } catch (error) {
    if (!ctx.current(token)) return;
    if (ctx.state.preview && error instanceof ProblemError && (error.status === 404 || error.status === 422)) {
      // The previewed plan is gone or does not cover this day: say so, show the routes in force.
      ctx.state.preview = null;
      report(error);
      await showDay(ctx, container);
      return;
    }
    body.dataset.boardState = "error";
    container.removeAttribute("aria-busy");
    report(error);
    container.replaceChildren(
      h("h1", {}, `${region.name} · ${longDay(date)}`),
      h(
        "p",
        { class: "empty" },
        "The day board could not be loaded. ",
        h("button", { type: "button", onclick: () => ctx.refresh() }, "Try again"),
      ),
    );
    return;
  }
  if (!ctx.current(token)) return;
  const [board, geo, unassigned, waiting, plan, skills] = loaded;
  body.dataset.boardFetchMs = String(Math.round(performance.now() - started));
  ctx.day = model(board, geo, unassigned, waiting, plan, skills);
  body.dataset.boardShows = ctx.day.preview ? `plan-${ctx.day.preview.id}` : "in-force";
  const fragment = document.createDocumentFragment();
  fragment.append(
    h(
      "div",
      { class: "day-head" },
      h("h1", {}, `${region.name} · ${longDay(date)}`),
      h("p", { class: "zone-note" }, `All times in ${board.timezone} (${offsetName(board.timezone, date)}), the region's timezone.`),
    ),
    ctx.day.preview ? previewBanner(ctx) : null,
    planBar(ctx),
    timelineSection(ctx),
    h(
      "div",
      { class: "day-grid" },
      routesMap(ctx),
      h("div", { class: "column" }, movePanel(ctx), unassignedPanel(ctx)),
      h("div", { class: "column" }, placeholder("sla-panel", "SLA at risk"), placeholder("quota-panel", "Quotas")),
    ),
  );
  const view = h("div", { class: ctx.day.preview ? "day previewing" : "day" }, fragment);
  container.replaceChildren(view);
  enableDrag(ctx, view);
  if (ctx.state.selected) selectVisit(ctx, ctx.state.selected);
  container.removeAttribute("aria-busy");
  void container.offsetHeight; // lay out now, so the time below includes it
  body.dataset.boardRenderedMs = String(Math.round(performance.now() - started));
  body.dataset.boardState = "ready";
  reports(ctx, token, view).catch(report);
}

function placeholder(kind, title) {
  return h("section", { class: `panel ${kind}`, "aria-busy": "true", "aria-label": title }, h("h2", {}, title), h("p", { class: "loading" }, "Loading…"));
}

/** The SLA and quota panels: asked for once the board is drawn, so they never hold it up. */
async function reports(ctx, token, view) {
  const { region, date } = ctx.state;
  const code = encodeURIComponent(region.code);
  document.body.dataset.panelsState = "loading";
  const [sla, month, week] = await Promise.all([
    settle(api("GET", `/api/v1/sla/at-risk?region=${code}`)),
    settle(api("GET", `/api/v1/reports/quotas?period=${date.slice(0, 7)}&region=${code}`)),
    settle(api("GET", `/api/v1/reports/quotas?period=${isoWeek(date)}&region=${code}`)),
  ]);
  if (!ctx.current(token) || !view.isConnected) return;
  view.querySelector("section.sla-panel")?.replaceWith(slaPanel(ctx, sla));
  view.querySelector("section.quota-panel")?.replaceWith(quotaPanel(ctx, [month, week]));
  document.body.dataset.panelsState = "ready";
}

/** The day as the screens use it: stops by visit, visits waiting for a plan, the time axis,
 * the plan previewed (null: the routes in force) and technicians' skills (null: unknown). */
function model(board, geo, unassigned, waiting, plan, skills) {
  const tz = board.timezone;
  const stops = new Map();
  let lo = Infinity;
  let hi = -Infinity;
  for (const tech of board.technicians) {
    for (const shift of tech.shifts) {
      lo = Math.min(lo, Date.parse(shift.starts_at));
      hi = Math.max(hi, Date.parse(shift.ends_at));
    }
    for (const stop of tech.stops) {
      stops.set(stop.visit, { stop, tech });
      lo = Math.min(lo, Date.parse(stop.planned_start) - stop.travel_seconds * 1000);
      hi = Math.max(hi, Date.parse(stop.planned_end));
    }
  }
  if (!Number.isFinite(lo)) {
    lo = zonedTime(board.date, 8 * 60, tz);
    hi = zonedTime(board.date, 18 * 60, tz);
  }
  // Half an hour of margin at both ends, so shift bounds never sit on the frame.
  lo = floorLocalHour(lo - 1_800_000, tz);
  hi = floorLocalHour(hi + 1_800_000 + 3_599_999, tz);
  // Visits the plan left out (with its reason) and visits open today that no plan placed yet
  // (a previewed plan's stops are still unscheduled: they are on its routes, not waiting).
  const left = new Map();
  for (const item of unassigned?.items || []) {
    if (item.status === "unscheduled") left.set(item.visit, { ...item });
  }
  for (const visit of waiting) {
    if (stops.has(visit.code)) continue;
    const known = left.get(visit.code);
    if (known) Object.assign(known, { skills: visit.skills, priority: visit.priority });
    else
      left.set(visit.code, {
        visit: visit.code,
        status: visit.status,
        reason: "not_planned_yet",
        detail: unassigned ? "Registered or changed since the latest plan: optimise again to place it." : "No plan covers this day yet.",
        figures: {},
        site: visit.site,
        duration_minutes: visit.duration_minutes,
        earliest_date: visit.earliest_date,
        due_date: visit.due_date,
        tier: visit.tier,
        priority: visit.priority,
        revision: visit.revision,
        skills: visit.skills,
      });
  }
  const preview = board.shows_plan || null;
  return { board, geo, unassigned, plan, preview, skills, tz, date: board.date, stops, left, lo, hi, span: hi - lo };
}

function timelineSection(ctx) {
  const { board, preview } = ctx.day;
  const planned = ctx.day.stops.size;
  const note = preview
    ? `${board.technicians.length} technicians · ${planned} visits in plan v${preview.version} · preview: moves are off`
    : `${board.technicians.length} technicians · ${planned} visits planned · drag a visit to move it`;
  return h(
    "section",
    { class: "panel timeline-panel", "aria-labelledby": "timeline-title" },
    h(
      "div",
      { class: "panel-head" },
      h("h2", { id: "timeline-title" }, preview ? `Routes per technician — plan v${preview.version} (${preview.status === "draft" ? "draft, not published" : preview.status})` : "Routes per technician"),
      h("p", { class: "panel-note" }, note),
      h(
        "button",
        { type: "button", class: "link skip-inline", onclick: () => document.getElementById("move-visit")?.focus() },
        "Skip the timeline: go to the move form",
      ),
    ),
    legend(preview),
    planned === 0 && board.technicians.length
      ? h("p", { class: "empty callout" }, preview ? `Plan v${preview.version} places no visit on this day.` : "No routes planned for this day — Optimise to plan it.")
      : null,
    board.technicians.length ? timeline(ctx) : h("p", { class: "empty" }, "No technician works in this region."),
  );
}

function legend(preview) {
  const swatch = (cls, text, ...inner) => h("li", {}, h("span", { class: `sample ${cls}`, "aria-hidden": "true" }, ...inner), text);
  return h(
    "details",
    { class: "legend", open: true },
    h("summary", {}, "Legend"),
    h(
      "ul",
      { class: "legend-list", "aria-label": "Contract tiers" },
      TIERS.map((tier) => swatch(`visit tier-${tier}`, tier)),
    ),
    h(
      "ul",
      { class: "legend-list", "aria-label": "Visit status" },
      swatch("visit tier-silver status-scheduled", "scheduled"),
      swatch("visit tier-silver status-dispatched", "dispatched"),
      swatch("visit tier-silver status-en_route", "en route (striped)"),
      swatch("visit tier-silver status-on_site", "on site (outlined)"),
      swatch("visit tier-silver status-completed", "completed (light)"),
      swatch("visit tier-silver status-failed", "failed (dashed)"),
      preview ? swatch("visit tier-silver proposed", `proposed by plan v${preview.version} (hatched)`) : null,
    ),
    h(
      "ul",
      { class: "legend-list", "aria-label": "Marks" },
      h("li", {}, icon("late"), "late: starts after its SLA deadline"),
      h("li", {}, icon("pin"), "pinned"),
      swatch("travel-sample", "travel"),
      swatch("break-sample", "break window"),
      swatch("shift-sample", "shift"),
      swatch("off-sample", "off shift"),
    ),
  );
}

function timeline(ctx) {
  const { board, lo, hi, span, tz } = ctx.day;
  const at = (ms) => `${(((ms - lo) / span) * 100).toFixed(3)}%`;
  const width = (from, to) => `${((Math.max(0, to - from) / span) * 100).toFixed(3)}%`;
  const ticks = [];
  const every = span > 14 * 3_600_000 ? 2 : 1;
  let n = 0;
  for (let t = lo; t <= hi; t += 3_600_000, n += 1) {
    if (n % every) continue;
    const label = h("span", { class: "tick" }, clock(new Date(t).toISOString(), tz));
    label.style.left = at(t);
    ticks.push(label);
  }
  const lines = h("div", { class: "hour-lines", "aria-hidden": "true" });
  for (let t = lo; t <= hi; t += 3_600_000) {
    const line = h("span", {});
    line.style.left = at(t);
    lines.append(line);
  }
  const nowMs = Date.now();
  if (nowMs > lo && nowMs < hi) {
    const now = h("span", { class: "now", title: `Now ${clock(new Date(nowMs).toISOString(), tz)}` });
    now.style.left = at(nowMs);
    lines.append(now);
  }
  const rows = h("ol", { class: "rows", "aria-label": "Technicians' routes" });
  for (const tech of board.technicians) rows.append(row(tech, at, width, tz, ctx.day.preview));
  return h(
    "div",
    { class: "timeline", id: "timeline" },
    h("div", { class: "axis", "aria-hidden": "true" }, h("span", { class: "axis-label" }, `Technician (${tz})`), h("div", { class: "ticks" }, ticks)),
    h("div", { class: "rows-wrap" }, lines, rows),
  );
}

function row(tech, at, width, tz, preview) {
  const t = tech.totals;
  const track = h("div", { class: "track" });
  if (!tech.shifts.length) track.classList.add("no-shift");
  for (const shift of tech.shifts) {
    const from = Date.parse(shift.starts_at);
    const to = Date.parse(shift.ends_at);
    const band = h("div", { class: "shift", title: `Shift ${clock(shift.starts_at, tz)}–${clock(shift.ends_at, tz)}` });
    band.style.left = at(from);
    band.style.width = width(from, to);
    track.append(band);
    for (const pause of shift.breaks) {
      const a = Date.parse(pause.earliest);
      const b = Date.parse(pause.latest);
      const text = `Break ${pause.minutes} min between ${clock(pause.earliest, tz)} and ${clock(pause.latest, tz)}`;
      const mark = h("div", { class: "break", title: text }, h("span", {}, `${pause.minutes}′ break`));
      mark.style.left = at(a);
      mark.style.width = width(a, b);
      track.append(mark);
    }
  }
  for (const stop of tech.stops) {
    const start = Date.parse(stop.planned_start);
    const end = Date.parse(stop.planned_end);
    if (stop.travel_seconds > 0) {
      const leg = h("div", { class: "travel", title: `Travel ${Math.round(stop.travel_seconds / 60)} min, ${km(stop.travel_metres)} to ${stop.site}` });
      leg.style.left = at(start - stop.travel_seconds * 1000);
      leg.style.width = width(start - stop.travel_seconds * 1000, start);
      track.append(leg);
    }
    track.append(block(stop, tech, at(start), width(start, end), tz, preview));
  }
  if (!tech.shifts.length) track.append(h("span", { class: "off-label" }, tech.stops.length ? "no shift" : "off today"));
  const meta = [`${tech.technician}`, `${t.stops} visit${t.stops === 1 ? "" : "s"}`, hours(t.work_minutes), percent(t.utilisation)];
  const summary = `${tech.name} (${tech.technician}): ${t.stops} visits, ${hours(t.work_minutes)} on site of ${hours(t.shift_minutes)} shift (${percent(t.utilisation)}), ${km(t.travel_metres)} of travel`;
  return h(
    "li",
    { class: "row", dataset: { technician: tech.technician }, "aria-label": `${tech.name}, ${tech.technician}: ${t.stops} visits` },
    h(
      "div",
      { class: "who", title: summary },
      h("span", { class: "name" }, tech.name, tech.locked ? h("span", { class: "tag locked", title: "Route locked against re-planning" }, "locked") : null),
      h("span", { class: "meta" }, meta.join(" · ")),
    ),
    track,
  );
}

function block(stop, tech, left, width, tz, preview) {
  const status = SHOWN_STATUSES.includes(stop.status) ? stop.status : "scheduled";
  const times = `${clock(stop.planned_start, tz)}–${clock(stop.planned_end, tz)}`;
  const words = [
    `${stop.visit}`,
    `stop ${stop.sequence + 1} of ${tech.name}`,
    stop.site,
    times,
    `${stop.tier} contract`,
    skillWords(stop.skills) ? `needs ${skillWords(stop.skills)}` : null,
    STATUS_LABELS[stop.status] || stop.status,
    preview ? `proposed by plan v${preview.version}, not in force` : null,
    stop.late ? "LATE: starts after its SLA deadline" : null,
    stop.pinned ? "pinned" : null,
  ].filter(Boolean);
  const classes = ["visit", `tier-${stop.tier}`, `status-${status}`];
  if (stop.late) classes.push("late");
  if (stop.pinned) classes.push("pinned");
  if (preview) classes.push("proposed");
  const flags = h("span", { class: "flags" }, stop.late ? icon("late") : null, stop.pinned ? icon("pin") : null);
  const second = status === "scheduled" ? stop.site : `${STATUS_LABELS[status]} · ${stop.site}`;
  const button = h(
    "button",
    { type: "button", class: classes.join(" "), dataset: { visit: stop.visit, tech: tech.technician }, "aria-label": words.join(", "), title: words.join("\n") },
    h("span", { class: "line1" }, flags, h("span", { class: "seq" }, `${stop.sequence + 1}`), ` ${stop.visit}`, stop.late ? h("span", { class: "late-word" }, " LATE") : null),
    h("span", { class: "line2" }, second),
  );
  button.style.left = left;
  button.style.width = width;
  return button;
}
