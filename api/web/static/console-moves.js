// A dispatcher's hand on the plan: move a visit by dragging it on the timeline (pointer events)
// or with the keyboard-friendly form, pin, unpin or take it off its route. Every change sends
// the visit's revision as If-Match; a stale board (409/412) shows the problem and reloads.
// Dragging over a technician short of a required skill level warns; while a plan is
// previewed, moves are off (they act on the routes in force) and say why.
import { api, clock, dayLabel, h, ProblemError, showNotice } from "/static/common.js";
import { MOVES_OFF, missingSkills, showPlan, skillWords } from "/static/console-preview.js";
import { humanise, report, STATUS_LABELS } from "/static/console-util.js";

const DRAG_THRESHOLD = 5;
const MOVABLE = ["unscheduled", "scheduled", "dispatched"];

function enc(code) {
  return encodeURIComponent(code);
}

/** The visit as the board knows it: on a route ({stop, tech}) or waiting ({item}). */
function known(ctx, code) {
  const placed = ctx.day.stops.get(code);
  if (placed) return { ...placed, revision: placed.stop.revision, pinned: placed.stop.pinned, status: placed.stop.status };
  const item = ctx.day.left.get(code);
  if (item) return { item, revision: item.revision, pinned: Boolean(item.pinned), status: item.status };
  return null;
}

async function revisionOf(ctx, code) {
  const found = known(ctx, code);
  if (found && found.revision !== null && found.revision !== undefined) return `"${found.revision}"`;
  const answer = await api("GET", `/api/v1/visits/${enc(code)}`);
  return answer.etag || `"${answer.body.revision}"`;
}

/** Sends one change; on success a notice and a fresh board, on failure the problem. */
async function change(ctx, code, action, body, describe) {
  const busy = document.getElementById("move-panel");
  busy?.setAttribute("aria-busy", "true");
  try {
    const ifMatch = await revisionOf(ctx, code);
    const answer = await api("POST", `/api/v1/visits/${enc(code)}/${action}`, { body, ifMatch });
    ctx.state.selected = code;
    await ctx.refresh();
    showNotice(describe(answer.body));
  } catch (error) {
    if (error instanceof ProblemError && (error.status === 409 || error.status === 412)) {
      // Someone changed the visit or its route meanwhile: show the board as it is now, and why.
      await ctx.refresh();
    }
    report(error);
  } finally {
    busy?.removeAttribute("aria-busy");
  }
}

export function assign(ctx, code, { technician, date, position, pin }) {
  const body = { technician, date, pin: Boolean(pin) };
  if (position !== null && position !== undefined && position !== "") body.position = Number(position);
  return change(ctx, code, "assign", body, (moved) => {
    const place = moved.route.findIndex((v) => v.visit === code);
    const starts = moved.visit.planned_start ? `, starts ${clock(moved.visit.planned_start, ctx.day.tz)}` : "";
    return `${code} moved to ${moved.visit.technician} on ${dayLabel(date)}: stop ${place + 1} of ${moved.route.length}${starts}${moved.visit.pinned_technician ? ", pinned" : ""}.`;
  });
}

function pinVisit(ctx, code) {
  return change(ctx, code, "pin", {}, (v) => `${code} pinned to ${v.pinned_technician} on ${dayLabel(v.pinned_date)}: later plans keep it there.`);
}

function unpinVisit(ctx, code) {
  return change(ctx, code, "unpin", undefined, () => `${code} unpinned: later plans may place it freely.`);
}

function unassignVisit(ctx, code) {
  return change(ctx, code, "unassign", undefined, () => `${code} taken off its route; it waits in the unassigned list.`);
}

// The form ------------------------------------------------------------------------------------

export function movePanel(ctx) {
  const { board, stops, left, date, tz, preview } = ctx.day;
  const visit = h("select", { id: "move-visit", name: "visit", required: true }, h("option", { value: "" }, "Choose a visit…"));
  for (const tech of board.technicians) {
    if (!tech.stops.length) continue;
    visit.append(
      h(
        "optgroup",
        { label: `${tech.name} (${tech.technician})` },
        tech.stops.map((s) => h("option", { value: s.visit }, `${s.sequence + 1}. ${s.visit} · ${clock(s.planned_start, tz)} · ${s.site}${s.pinned ? " · pinned" : ""}`)),
      ),
    );
  }
  if (left.size) {
    visit.append(h("optgroup", { label: "Unassigned" }, [...left.values()].map((item) => h("option", { value: item.visit }, `${item.visit} · ${item.site} · ${item.duration_minutes} min`))));
  }
  const technician = h(
    "select",
    { id: "move-technician", name: "technician", required: true },
    h("option", { value: "" }, "Choose a technician…"),
    board.technicians.map((t) => h("option", { value: t.technician }, `${t.name} (${t.technician}) · ${t.totals.stops} visits`)),
  );
  const day = h("input", { id: "move-date", name: "date", type: "date", required: true, value: date });
  const position = h("input", { id: "move-position", name: "position", type: "number", min: 0, max: 1000, step: 1, inputmode: "numeric", placeholder: "cheapest", "aria-describedby": "move-position-hint" });
  const pin = h("input", { id: "move-pin", name: "pin", type: "checkbox" });
  const details = h("div", { id: "move-details", class: "move-details", "aria-live": "polite" }, h("p", { class: "empty" }, "No visit chosen: pick one here or click a visit on the timeline."));
  const pinButton = h("button", { type: "button", class: "secondary", id: "pin-button", disabled: true, onclick: () => pinVisit(ctx, visit.value) }, "Pin where planned");
  const unpinButton = h("button", { type: "button", class: "secondary", id: "unpin-button", disabled: true, onclick: () => unpinVisit(ctx, visit.value) }, "Unpin");
  const offButton = h("button", { type: "button", class: "secondary", id: "unassign-button", disabled: true, onclick: () => unassignVisit(ctx, visit.value) }, "Take off route");
  // While previewing, the visit can still be chosen and read; the move controls are off.
  const controls = h(
    "fieldset",
    { class: "move-controls", disabled: Boolean(preview), "aria-describedby": preview ? "moves-off" : null },
    h("legend", { class: "visually-hidden" }, "Where to"),
    h("div", { class: "field" }, h("label", { for: "move-technician" }, "To technician"), technician),
    h(
      "div",
      { class: "field-row" },
      h("div", { class: "field" }, h("label", { for: "move-date" }, "On day"), day),
      h("div", { class: "field" }, h("label", { for: "move-position" }, "Position in route"), position),
    ),
    h("p", { class: "hint", id: "move-position-hint" }, "1st stop = 0; leave empty to put it where it adds the least travel."),
    h("div", { class: "check" }, pin, h("label", { for: "move-pin" }, "Pin it there for later plans")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Move visit"), pinButton, unpinButton, offButton),
  );
  const form = h(
    "form",
    { id: "move-form", class: "move-form", "aria-labelledby": "move-title", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "move-visit" }, "Visit"), visit),
    details,
    controls,
  );
  visit.addEventListener("change", () => selectVisit(ctx, visit.value));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (ctx.day.preview) {
      report(new Error(MOVES_OFF));
      return;
    }
    const missing = [
      [visit, "Choose a visit."],
      [technician, "Choose a technician."],
      [day, "Give the day."],
    ].find(([control]) => !control.value);
    if (missing) {
      report(new Error(missing[1]));
      missing[0].focus();
      return;
    }
    assign(ctx, visit.value, { technician: technician.value, date: day.value, position: position.value, pin: pin.checked });
  });
  return h(
    "section",
    { class: "panel move-panel", id: "move-panel", "aria-labelledby": "move-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "move-title" }, "Move, pin or unpin a visit")),
    preview
      ? h(
          "p",
          { class: "hint moves-off", id: "moves-off" },
          MOVES_OFF,
          " ",
          h("button", { type: "button", class: "link", onclick: () => showPlan(ctx, null) }, "Back to routes in force"),
        )
      : h("p", { class: "hint" }, "Drag a visit on the timeline to another technician or time, or use this form (keyboard friendly)."),
    form,
  );
}

/** Makes ``code`` the chosen visit: the form, its details and the highlighted block follow. */
export function selectVisit(ctx, code, { focus = false } = {}) {
  const select = document.getElementById("move-visit");
  if (!select || !ctx.day) return;
  const found = code ? known(ctx, code) : null;
  ctx.state.selected = found ? code : null;
  select.value = found ? code : "";
  for (const old of document.querySelectorAll(".visit.selected")) old.classList.remove("selected");
  const details = document.getElementById("move-details");
  const pin = document.getElementById("pin-button");
  const unpin = document.getElementById("unpin-button");
  const off = document.getElementById("unassign-button");
  if (!found) {
    details.replaceChildren(h("p", { class: "empty" }, "No visit chosen: pick one here or click a visit on the timeline."));
    pin.disabled = unpin.disabled = off.disabled = true;
    return;
  }
  const { tz } = ctx.day;
  const technician = document.getElementById("move-technician");
  if (found.stop) {
    const { stop, tech } = found;
    document.querySelector(`.timeline [data-visit="${CSS.escape(code)}"]`)?.classList.add("selected");
    technician.value = tech.technician;
    details.replaceChildren(
      h("p", {}, h("strong", {}, `Stop ${stop.sequence + 1} of ${tech.name}`), ` · ${clock(stop.planned_start, tz)}–${clock(stop.planned_end, tz)}`),
      h(
        "p",
        {},
        `${stop.site} · ${stop.tier} · ${STATUS_LABELS[stop.status] || stop.status}`,
        stop.late ? h("span", { class: "late-word" }, " · LATE (after SLA deadline)") : null,
        stop.pinned ? " · pinned" : "",
      ),
      skillWords(stop.skills) ? h("p", {}, `Needs ${skillWords(stop.skills)}`) : null,
    );
  } else {
    const { item } = found;
    details.replaceChildren(
      h("p", {}, h("strong", {}, "Waiting"), ` · ${item.site} · ${item.duration_minutes} min`),
      h("p", {}, `${humanise(item.reason)} · open ${dayLabel(item.earliest_date)} – due ${dayLabel(item.due_date)}`),
      skillWords(item.skills) ? h("p", {}, `Needs ${skillWords(item.skills)}`) : null,
    );
  }
  pin.disabled = !found.stop || found.pinned || !MOVABLE.includes(found.status);
  unpin.disabled = !found.pinned;
  off.disabled = !found.stop || !MOVABLE.includes(found.status);
  if (focus) {
    select.scrollIntoView({ block: "center" });
    technician.focus();
  }
}

// Drag and drop on the timeline ----------------------------------------------------------------

/** Where a drop at clientX on ``row`` puts the visit: the number of that route's stops
 * (the dragged visit aside) starting before the time under the pointer. */
function dropPlace(ctx, row, clientX, code) {
  const track = row.querySelector(".track");
  const rect = track.getBoundingClientRect();
  const share = Math.min(1, Math.max(0, (clientX - rect.left) / rect.width));
  const time = ctx.day.lo + share * ctx.day.span;
  const tech = ctx.day.board.technicians.find((t) => t.technician === row.dataset.technician);
  const position = tech.stops.filter((s) => s.visit !== code && Date.parse(s.planned_start) < time).length;
  return { technician: tech.technician, name: tech.name, position, time, share, track };
}

/** The skills (code -> minimum level) the visit needs, as the board knows them. */
function requiredSkills(ctx, code) {
  const found = known(ctx, code);
  return found?.stop ? found.stop.skills : found?.item?.skills;
}

export function enableDrag(ctx, root) {
  root.addEventListener("click", (event) => {
    const block = event.target.closest(".timeline [data-visit]");
    if (!block) return;
    // A keyboard press (detail 0) goes on to the form; a mouse click only selects.
    selectVisit(ctx, block.dataset.visit, { focus: event.detail === 0 });
  });
  root.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !event.isPrimary) return;
    const source = event.target.closest(".timeline [data-visit], .unassigned-panel [data-visit]");
    if (!source) return;
    const code = source.dataset.visit;
    const found = known(ctx, code);
    if (!found || !MOVABLE.includes(found.status)) return;
    startDrag(ctx, event, source, code);
  });
}

function startDrag(ctx, down, source, code) {
  let active = false;
  let ghost = null;
  let marker = null;
  let target = null;
  let place = null;
  let short = null;
  const clear = () => {
    target?.classList.remove("drop-target", "drop-warning");
    marker?.remove();
    target = null;
    marker = null;
    place = null;
    short = null;
  };
  const finish = () => {
    window.removeEventListener("pointermove", move);
    window.removeEventListener("pointerup", up);
    window.removeEventListener("pointercancel", cancel);
    window.removeEventListener("keydown", escape, true);
    clear();
    ghost?.remove();
    source.classList.remove("drag-source");
    document.body.classList.remove("dragging");
  };
  const needs = requiredSkills(ctx, code);
  const move = (event) => {
    if (!active) {
      if (Math.hypot(event.clientX - down.clientX, event.clientY - down.clientY) < DRAG_THRESHOLD) return;
      if (ctx.day.preview) {
        // A drag on a preview: nothing to move, but say why rather than ignore it.
        finish();
        showNotice(MOVES_OFF);
        return;
      }
      active = true;
      document.body.classList.add("dragging");
      source.classList.add("drag-source");
      ghost = h("div", { class: "drag-ghost", "aria-hidden": "true" }, code);
      document.body.append(ghost);
    }
    event.preventDefault();
    ghost.style.left = `${event.clientX + 12}px`;
    ghost.style.top = `${event.clientY + 12}px`;
    const row = document.elementFromPoint(event.clientX, event.clientY)?.closest(".timeline .row[data-technician]");
    if (row !== target) {
      clear();
      target = row || null;
      target?.classList.add("drop-target");
      short = target ? missingSkills(needs, ctx.day.skills?.get(target.dataset.technician)) : null;
      if (short?.length) target.classList.add("drop-warning");
    }
    if (!target) {
      ghost.textContent = `${code}: drop on a technician's row`;
      return;
    }
    place = dropPlace(ctx, target, event.clientX, code);
    if (!marker) {
      marker = h("span", { class: "drop-marker", "aria-hidden": "true" });
      place.track.append(marker);
    }
    marker.style.left = `${(place.share * 100).toFixed(2)}%`;
    ghost.textContent = `${code} → ${place.name}, position ${place.position} (${clock(new Date(place.time).toISOString(), ctx.day.tz)})`;
    ghost.classList.toggle("warning", Boolean(short?.length));
    if (short?.length) ghost.textContent += ` — lacks ${short.join("; ")}`;
  };
  const up = (event) => {
    const dropped = active && target ? dropPlace(ctx, target, event.clientX, code) : null;
    const wasActive = active;
    finish();
    if (!wasActive) return;
    // The click that follows a drag is not a selection.
    const swallow = (e) => e.stopPropagation();
    window.addEventListener("click", swallow, { capture: true, once: true });
    setTimeout(() => window.removeEventListener("click", swallow, { capture: true }), 0);
    if (!dropped) return;
    const current = ctx.day.stops.get(code);
    if (current && current.tech.technician === dropped.technician && current.stop.sequence === dropped.position) {
      showNotice(`${code} stays where it is.`);
      return;
    }
    assign(ctx, code, { technician: dropped.technician, date: ctx.day.date, position: dropped.position, pin: false });
  };
  const cancel = () => finish();
  const escape = (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      finish();
    }
  };
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", up);
  window.addEventListener("pointercancel", cancel);
  window.addEventListener("keydown", escape, true);
}
