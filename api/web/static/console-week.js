// The week: seven days from the chosen one, per technician per day the visits planned and
// their hours against the shift, with the day's plan and the visits still waiting; a day's
// heading opens it on the day board.
import { api, dayLabel, h } from "/static/common.js";
import { addDays, emptyState, longDay, offsetName, report } from "/static/console-util.js";

const DAYS = 7;

function planOn(plans, day) {
  return plans.find((p) => p.status !== "failed" && p.starts_on <= day && day < addDays(p.starts_on, p.days)) || null;
}

export async function showWeek(ctx, container) {
  const token = ctx.token();
  const { region, date } = ctx.state;
  const days = Array.from({ length: DAYS }, (_, i) => addDays(date, i));
  const code = encodeURIComponent(region.code);
  document.body.dataset.weekState = "loading";
  container.setAttribute("aria-busy", "true");
  container.replaceChildren(h("p", { class: "loading" }, `Loading the week from ${longDay(date)}…`));
  let boards;
  let waiting;
  let plans;
  try {
    [boards, waiting, plans] = await Promise.all([
      Promise.all(days.map((d) => api("GET", `/api/v1/regions/${code}/board?date=${d}`).then((a) => a.body))),
      Promise.all(
        days.map((d) =>
          api("GET", `/api/v1/visits?${new URLSearchParams({ region: region.code, status: "unscheduled", open_on: d, limit: "1" })}`).then((a) => a.body.total),
        ),
      ),
      api("GET", `/api/v1/plans?${new URLSearchParams({ region: region.code, limit: "100" })}`).then((a) => a.body.items),
    ]);
  } catch (error) {
    if (!ctx.current(token)) return;
    container.removeAttribute("aria-busy");
    document.body.dataset.weekState = "error";
    report(error);
    container.replaceChildren(h("h1", {}, `Week of ${longDay(date)}`), emptyState("The week could not be loaded. ", h("button", { type: "button", onclick: () => ctx.refresh() }, "Try again")));
    return;
  }
  if (!ctx.current(token)) return;
  const technicians = new Map();
  boards.forEach((board, i) => {
    for (const tech of board.technicians) {
      if (!technicians.has(tech.technician)) technicians.set(tech.technician, { code: tech.technician, name: tech.name, days: new Array(DAYS).fill(null) });
      technicians.get(tech.technician).days[i] = tech;
    }
  });
  const open = (day) => ctx.go({ view: "day", date: day, selected: null });
  const head = h(
    "tr",
    {},
    h("th", { scope: "col" }, "Technician"),
    days.map((d, i) => {
      const plan = planOn(plans, d);
      return h(
        "th",
        { scope: "col", class: "day-col" },
        h("button", { type: "button", class: "day-open", "aria-label": `Open ${longDay(d)} on the day board`, onclick: () => open(d) }, dayLabel(d)),
        h("span", { class: `plan-tag ${plan ? plan.status : "none"}` }, plan ? `${plan.status} v${plan.version}` : "not planned"),
        h("span", { class: "visually-hidden" }, ` ${waiting[i]} waiting`),
      );
    }),
  );
  const body = h("tbody", {});
  const totals = days.map(() => ({ visits: 0, work: 0, shift: 0 }));
  for (const tech of technicians.values()) {
    body.append(
      h(
        "tr",
        { dataset: { weekTechnician: tech.code } },
        h("th", { scope: "row" }, h("span", { class: "name" }, tech.name), h("span", { class: "meta" }, tech.code)),
        tech.days.map((day, i) => {
          if (!day || (!day.shifts.length && !day.stops.length)) return h("td", { class: "off" }, "off");
          const t = day.totals;
          totals[i].visits += t.stops;
          totals[i].work += t.work_minutes;
          totals[i].shift += t.shift_minutes;
          const share = t.shift_minutes ? t.work_minutes / t.shift_minutes : 0;
          const load = t.stops === 0 ? 0 : Math.min(4, 1 + Math.floor(share * 4));
          const fill = h("span", { class: "fill" });
          fill.style.width = `${Math.min(100, share * 100).toFixed(0)}%`;
          return h(
            "td",
            { class: `load-${load}` },
            h("span", { class: "count" }, `${t.stops} visit${t.stops === 1 ? "" : "s"}`),
            h("span", { class: "hours" }, `${(t.work_minutes / 60).toFixed(1)} h of ${(t.shift_minutes / 60).toFixed(1)} h`),
            h("span", { class: "bar", "aria-hidden": "true" }, fill),
          );
        }),
      ),
    );
  }
  const foot = h(
    "tfoot",
    {},
    h(
      "tr",
      {},
      h("th", { scope: "row" }, "All technicians"),
      totals.map((t) => h("td", {}, h("span", { class: "count" }, `${t.visits} visits`), h("span", { class: "hours" }, `${(t.work / 60).toFixed(1)} h of ${(t.shift / 60).toFixed(1)} h`))),
    ),
    h(
      "tr",
      {},
      h("th", { scope: "row" }, "Waiting for a plan"),
      waiting.map((n) => h("td", { class: n ? "waiting-count" : "" }, n ? `${n} open visit${n === 1 ? "" : "s"}` : "none")),
    ),
  );
  const table = h(
    "table",
    { class: "week-table", id: "week" },
    h("caption", {}, `Visits and planned work hours (of shift hours) per technician, ${dayLabel(days[0])} – ${dayLabel(days[DAYS - 1])}`),
    h("thead", {}, head),
    body,
    foot,
  );
  container.replaceChildren(
    h(
      "div",
      { class: "week" },
      h(
        "div",
        { class: "day-head" },
        h("h1", {}, `${region.name} · week from ${longDay(date)}`),
        h("p", { class: "zone-note" }, `Days in ${region.timezone} (${offsetName(region.timezone, date)}). Choose a day to open it on the day board.`),
        h(
          "div",
          { class: "week-nav" },
          h("button", { type: "button", class: "secondary", onclick: () => ctx.go({ date: addDays(date, -DAYS) }) }, "‹ Previous 7 days"),
          h("button", { type: "button", class: "secondary", onclick: () => ctx.go({ date: addDays(date, DAYS) }) }, "Next 7 days ›"),
        ),
      ),
      h("section", { class: "panel week-panel", "aria-label": "Week" }, technicians.size ? h("div", { class: "table-wrap" }, table) : emptyState("No technician works in this region.")),
    ),
  );
  container.removeAttribute("aria-busy");
  document.body.dataset.weekState = "ready";
}
