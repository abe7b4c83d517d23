// Previewing a plan before it is in force: the board, map and unassigned list ask for the
// plan's stops (`plan=`), a banner says which plan is shown and leads back to the routes in
// force, and moves stay off meanwhile, since they act on the routes in force, not on a plan.
// Also the skills check a drag runs against the technician under the pointer.
import { h } from "/static/common.js";

/** The query the day's requests add to show the previewed plan ("" for the routes in force). */
export function planQuery(ctx) {
  return ctx.state.preview ? `&plan=${encodeURIComponent(ctx.state.preview)}` : "";
}

/** Shows plan ``id`` on the board instead of the routes in force; null goes back to them. */
export function showPlan(ctx, id) {
  ctx.state.preview = id;
  ctx.state.selected = null;
  return ctx.refresh();
}

/** "Preview of draft plan v3 — not published yet", or what else the shown plan is now. */
export function previewTitle(ref) {
  if (ref.status === "draft") return `Preview of draft plan v${ref.version} — not published yet`;
  if (ref.status === "published") return `Plan v${ref.version} as published — manual moves since are not shown`;
  return `Plan v${ref.version} (${ref.status}) — not in force`;
}

export const MOVES_OFF = "Moves act on the routes in force, not on a preview: go back to the routes in force to move visits.";

export function previewBanner(ctx) {
  const ref = ctx.day.preview;
  return h(
    "div",
    { class: `preview-banner ${ref.status}`, id: "preview-banner", role: "status", dataset: { plan: String(ref.id) } },
    h(
      "p",
      {},
      h("span", { class: "preview-tag" }, "Preview"),
      " ",
      h("strong", {}, previewTitle(ref)),
      h("span", { class: "preview-note" }, ". Timeline and map show the routes this plan proposes (hatched blocks, dashed routes); visits' status is as it is now. ", MOVES_OFF),
    ),
    h("button", { type: "button", class: "secondary", id: "leave-preview", onclick: () => showPlan(ctx, null) }, "Back to routes in force"),
  );
}

/** The skills ``required`` (code -> minimum level) that ``has`` (code -> level) falls short of,
 * as words ("network 3, has 1"); null when the technician's skills are unknown. */
export function missingSkills(required, has) {
  if (!has) return null;
  return Object.entries(required || {})
    .filter(([code, level]) => (has[code] || 0) < level)
    .map(([code, level]) => `${code} ${level}, has ${has[code] ? has[code] : "none"}`);
}

/** "network 3, hvac 2" for a visit's required skills, or null when it needs none. */
export function skillWords(required) {
  const entries = Object.entries(required || {});
  return entries.length ? entries.map(([code, level]) => `${code} ${level}`).join(", ") : null;
}
