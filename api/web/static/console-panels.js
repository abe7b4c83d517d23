// The day board's side panels: visits waiting for a technician (and why), requests whose SLA
// is at risk or breached, and contracts near or over their quota.
import { clock, dayLabel, h } from "/static/common.js";
import { selectVisit } from "/static/console-moves.js";
import { emptyState, humanise, icon, localDate, problemText } from "/static/console-util.js";

const SHOWN_AT_ONCE = 8;

function head(id, title, note) {
  return h("div", { class: "panel-head" }, h("h2", { id }, title), note ? h("p", { class: "panel-note" }, note) : null);
}

/** Long lists show their first items and fold the rest. */
function folded(items, render, label) {
  const list = h("ul", { class: "items" }, items.slice(0, SHOWN_AT_ONCE).map(render));
  if (items.length <= SHOWN_AT_ONCE) return list;
  return [list, h("details", { class: "more" }, h("summary", {}, `${label}: ${items.length - SHOWN_AT_ONCE} more`), h("ul", { class: "items" }, items.slice(SHOWN_AT_ONCE).map(render)))];
}

// Unassigned ---------------------------------------------------------------------------------

export function unassignedPanel(ctx) {
  const { left, unassigned, plan, preview } = ctx.day;
  const items = [...left.values()].sort((a, b) => (a.reason === b.reason ? a.visit.localeCompare(b.visit) : a.reason === "not_planned_yet" ? -1 : b.reason === "not_planned_yet" ? 1 : a.reason.localeCompare(b.reason)));
  const note = unassigned ? `${items.length} waiting · plan v${unassigned.plan.version} (${unassigned.plan.status})` : plan ? `${items.length} waiting` : `${items.length} waiting · no plan yet`;
  const section = h("section", { class: "panel unassigned-panel", id: "unassigned", "aria-labelledby": "unassigned-title" }, head("unassigned-title", "Unassigned visits", note));
  if (!items.length) {
    section.append(emptyState(unassigned ? "Every visit open on this day is on a route." : "No visit is waiting for this day."));
    return section;
  }
  section.append(
    h("p", { class: "hint" }, preview ? "Assigning is off while a plan is previewed: it acts on the routes in force." : "Drag a visit onto a technician's row, or press Assign to use the move form."),
  );
  const render = (item) =>
    h(
      "li",
      { class: "waiting", dataset: { visit: item.visit } },
      h(
        "div",
        { class: "waiting-head" },
        h("strong", {}, item.visit),
        h("span", {}, `${item.site} · ${item.duration_minutes} min`),
        item.tier ? h("span", { class: `tier-tag tier-${item.tier}` }, item.tier) : null,
      ),
      h("p", { class: "reason" }, h("span", { class: `reason-tag reason-${item.reason === "not_planned_yet" ? "new" : "left"}` }, humanise(item.reason)), " ", item.detail),
      h(
        "div",
        { class: "waiting-foot" },
        h("span", { class: "dates" }, `open ${dayLabel(item.earliest_date)} – due ${dayLabel(item.due_date)}`),
        h("button", { type: "button", class: "secondary small", "aria-label": `Assign ${item.visit}`, disabled: Boolean(preview), onclick: () => selectVisit(ctx, item.visit, { focus: true }) }, "Assign…"),
      ),
    );
  section.append(...[folded(items, render, "Unassigned")].flat());
  return section;
}

// SLA ----------------------------------------------------------------------------------------

function slack(minutes) {
  const m = Math.abs(minutes);
  const text = m >= 1440 ? `${Math.floor(m / 1440)} d ${Math.floor((m % 1440) / 60)} h` : m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m} min`;
  return minutes < 0 ? `overdue by ${text}` : `${text} left`;
}

export function slaPanel(ctx, answer) {
  const { tz } = ctx.day;
  if (!answer.ok) {
    return h("section", { class: "panel sla-panel", "aria-labelledby": "sla-title" }, head("sla-title", "SLA at risk"), emptyState(`The SLA report could not be loaded: ${problemText(answer.error)}`));
  }
  const board = answer.value;
  const items = [...board.breached, ...board.at_risk];
  const section = h(
    "section",
    { class: "panel sla-panel", "aria-labelledby": "sla-title" },
    head("sla-title", "SLA at risk", `${board.breached.length} breached · ${board.at_risk.length} at risk (within ${board.within_minutes} min)`),
  );
  if (!items.length) {
    section.append(emptyState("No request of this region is at risk or breached."));
    return section;
  }
  const when = (iso) => `${dayLabel(localDate(iso, tz))} ${clock(iso, tz)}`;
  const render = (item) =>
    h(
      "li",
      { class: `sla-item ${item.state}` },
      h(
        "div",
        { class: "sla-head" },
        h("span", { class: `state-tag ${item.state}` }, item.state === "breached" ? [icon("late"), "Breached"] : "At risk"),
        h("strong", {}, item.request),
        h("span", { class: `tier-tag tier-${item.tier}` }, item.tier),
      ),
      h("p", {}, `${item.site_name} · ${item.urgency} urgency`),
      h("p", { class: "sla-due" }, `Due ${when(item.due_at)} · ${slack(item.slack_minutes)}`),
      item.visits.length
        ? h(
            "p",
            { class: "sla-visits" },
            item.visits.map((v) => `${v.code}: ${v.status.replaceAll("_", " ")}${v.technician ? ` with ${v.technician}` : ""}${v.planned_start ? ` at ${when(v.planned_start)}` : ""}`).join("; "),
          )
        : h("p", { class: "sla-visits" }, "No visit yet (pending first line)"),
    );
  section.append(...[folded(items, render, "SLA")].flat());
  return section;
}

// Quotas -------------------------------------------------------------------------------------

const NEAR = 0.8;

function quotaFigures(contract) {
  const m = contract.minutes;
  const d = contract.onsite_days;
  const allowed = m.quota === null ? null : m.quota + (m.carried || 0);
  const used = allowed === null || m.remaining === null ? null : allowed - m.remaining;
  const share = allowed ? used / allowed : null;
  const dayShare = d.quota ? (d.quota - d.remaining) / d.quota : null;
  const over = (m.remaining !== null && m.remaining < 0) || m.overage > 0 || m.forecast_overage > 0 || (d.remaining !== null && d.remaining < 0);
  const near = !over && ((share !== null && share >= NEAR) || (dayShare !== null && dayShare >= NEAR));
  return { allowed, used, share, dayShare, over, near };
}

function bar(share, state) {
  const fill = h("span", { class: `fill ${state}` });
  fill.style.width = `${Math.min(100, Math.max(0, (share || 0) * 100)).toFixed(1)}%`;
  return h("span", { class: "bar", "aria-hidden": "true" }, fill);
}

export function quotaPanel(ctx, answers) {
  const section = h("section", { class: "panel quota-panel", "aria-labelledby": "quota-title" });
  const failed = answers.filter((a) => !a.ok);
  const contracts = [];
  const seen = new Set();
  for (const answer of answers) {
    if (!answer.ok) continue;
    for (const c of answer.value.contracts) {
      const key = `${c.contract}/${c.period}`;
      if (seen.has(key) || (c.minutes.quota === null && c.onsite_days.quota === null)) continue;
      seen.add(key);
      contracts.push({ ...c, figures: quotaFigures(c) });
    }
  }
  contracts.sort((a, b) => (b.figures.share ?? b.figures.dayShare ?? 0) - (a.figures.share ?? a.figures.dayShare ?? 0));
  const flagged = contracts.filter((c) => c.figures.over || c.figures.near);
  const periods = answers.filter((a) => a.ok).map((a) => a.value.period);
  section.append(head("quota-title", "Quotas", `${flagged.length} near or over · ${periods.join(" and ")}`));
  if (failed.length) section.append(emptyState(`The quota report could not be loaded: ${problemText(failed[0].error)}`));
  const render = (c) => {
    const f = c.figures;
    const state = f.over ? "over" : f.near ? "near" : "ok";
    const m = c.minutes;
    const d = c.onsite_days;
    return h(
      "li",
      { class: `quota-item ${state}` },
      h(
        "div",
        { class: "quota-head" },
        state === "ok" ? null : h("span", { class: `state-tag ${state}` }, state === "over" ? [icon("late"), "Over quota"] : "Near quota"),
        h("strong", {}, c.contract),
        h("span", { class: "quota-name" }, c.name),
      ),
      m.quota === null
        ? null
        : h(
            "p",
            { class: "quota-line" },
            bar(f.share, state),
            `${(f.used / 60).toFixed(1)} h of ${(f.allowed / 60).toFixed(1)} h used or planned (${Math.round((f.share || 0) * 100)}%)`,
            m.forecast_overage > 0 ? ` · ${(m.forecast_overage / 60).toFixed(1)} h over once planned work is done` : "",
          ),
      d.quota === null ? null : h("p", { class: "quota-line" }, bar(f.dayShare, state), `${d.quota - d.remaining} of ${d.quota} on-site days · ${c.period}`),
      h("p", { class: "quota-policy" }, `${humanise(c.kind)} · overage: ${c.overage_policy === "block" ? "blocked" : "billed as T&M"}`),
    );
  };
  if (!flagged.length && !failed.length) section.append(emptyState("No contract is near or over its quota."));
  if (flagged.length) section.append(h("ul", { class: "items" }, flagged.map(render)));
  const rest = contracts.filter((c) => !flagged.includes(c));
  if (rest.length) section.append(h("details", { class: "more" }, h("summary", {}, `Other contracts with a quota: ${rest.length}`), h("ul", { class: "items" }, rest.map(render))));
  return section;
}
