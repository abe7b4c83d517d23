// Planning a day from the board: "Optimise" queues a planning job and follows its progress,
// the board then previews the proposed plan with its figures, and "Publish" puts it in force
// (the board goes back to the routes in force, now the published ones).
import { api, clock, dayLabel, h, ProblemError, showNotice } from "/static/common.js";
import { showPlan } from "/static/console-preview.js";
import { humanise, localDate, report } from "/static/console-util.js";

const POLL_MS = 600;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sameDay(ctx, job) {
  return job && job.regionCode === ctx.state.region.code && job.date === ctx.state.date;
}

function running(job) {
  return job && (job.status === "queued" || job.status === "running");
}

/** The plan bar of the shown day: its plan's figures, Optimise, Publish and the job's progress. */
export function planBar(ctx) {
  const { plan, unassigned, tz, preview } = ctx.day;
  const latest = plan || unassigned?.plan || null;
  // While a draft is previewed, Publish acts on that draft (even if a newer one exists).
  const ref = preview && preview.status === "draft" ? preview : latest;
  const full = plan && ref && plan.id === ref.id ? plan : null;
  const job = sameDay(ctx, ctx.job) ? ctx.job : null;
  const optimise = h(
    "button",
    { type: "button", id: "optimise", disabled: running(job), onclick: () => startOptimise(ctx) },
    running(job) ? "Optimising…" : "Optimise",
  );
  const publish = h(
    "button",
    {
      type: "button",
      id: "publish",
      class: "publish",
      disabled: !ref || ref.status !== "draft" || running(job),
      onclick: () => publishPlan(ctx, ref),
      "aria-describedby": "plan-state",
    },
    ref && ref.status === "draft" ? `Publish plan v${ref.version}` : "Publish",
  );
  const previewing = Boolean(preview) && preview.id === ref?.id;
  // The newest draft can be previewed unless shown already; while it is, the banner leads back.
  const look =
    latest && latest.status === "draft" && preview?.id !== latest.id
      ? h("button", { type: "button", class: "secondary", id: "preview-plan", disabled: running(job), onclick: () => showPlan(ctx, latest.id) }, `Preview plan v${latest.version}`)
      : null;
  let state;
  if (!ref) state = h("p", { id: "plan-state", class: "plan-state none" }, "Not planned yet: Optimise proposes routes for every technician of the region.");
  else if (ref.status === "draft")
    state = h(
      "p",
      { id: "plan-state", class: "plan-state draft" },
      h("span", { class: "badge draft" }, "Draft"),
      previewing
        ? ` Plan v${ref.version} is proposed, not in force: the board previews it; Publish sends it to the technicians.`
        : ` Plan v${ref.version} is proposed, not in force: the board shows the routes in force; Preview shows the plan's routes, Publish sends it to the technicians.`,
    );
  else
    state = h(
      "p",
      { id: "plan-state", class: "plan-state published" },
      h("span", { class: "badge published" }, "Published"),
      ` Plan v${ref.version}${full?.published_at ? ` published ${dayLabel(localDate(full.published_at, tz))} ${clock(full.published_at, tz)}` : ""}; ${previewing ? "the board shows it as planned, without manual moves since." : "manual moves since then show on the board."}`,
    );
  return h(
    "section",
    { class: "panel plan-bar", "aria-labelledby": "plan-title" },
    h(
      "div",
      { class: "plan-main" },
      h("h2", { id: "plan-title" }, "Plan of the day"),
      state,
      full ? figures(full) : null,
    ),
    h("div", { class: "plan-actions" }, optimise, look, publish),
    h("div", { class: "job", id: "job", role: "status", "aria-live": "polite" }, job ? jobView(ctx, job) : null),
  );
}

function figures(plan) {
  const s = plan.summary;
  const reasons = Object.entries(s.unassigned_by_reason || {})
    .map(([reason, n]) => `${n} ${humanise(reason).toLowerCase()}`)
    .join(", ");
  const item = (term, value, extra) => h("div", {}, h("dt", {}, term), h("dd", {}, value, extra ? h("span", { class: "extra" }, extra) : null));
  return h(
    "dl",
    { class: "figures", "aria-label": `Figures of plan v${plan.version}` },
    item("Assigned", `${s.assigned} of ${s.visits}`, " visits"),
    item("Unassigned", String(s.unassigned), reasons ? ` (${reasons})` : null),
    item("Routes", `${s.routes}`, ` of ${s.technicians} technicians`),
    item("Travel", `${s.travel_km.toFixed(0)} km`, ` · ${s.travel_hours.toFixed(1)} h`),
    item("After SLA deadline", `${(s.late_minutes / 60).toFixed(1)} h`, " in all"),
    item("Solver", plan.wall_seconds !== null ? `${plan.wall_seconds.toFixed(1)} s` : "–", plan.strategy ? ` · ${plan.strategy}` : null),
  );
}

function jobView(ctx, job) {
  const share = Math.round((job.progress || 0) * 100);
  const title =
    job.status === "succeeded" ? "Optimisation finished" : job.status === "failed" ? "Optimisation failed" : job.status === "queued" ? "Optimisation queued" : "Optimising";
  return [
    h("label", { for: "job-progress" }, `${title} · ${job.regionCode} ${dayLabel(job.date)} (job ${job.id})`),
    h("div", { class: "job-line" }, h("progress", { id: "job-progress", max: 1, value: job.progress || 0 }, `${share}%`), h("span", { class: "job-percent" }, `${share}%`)),
    h("p", { class: `job-message ${job.status}` }, job.message || job.status),
  ];
}

function renderJob(ctx) {
  const box = document.getElementById("job");
  if (!box || !sameDay(ctx, ctx.job) || !ctx.day) return;
  box.replaceChildren(...jobView(ctx, ctx.job));
  const optimise = document.getElementById("optimise");
  if (optimise) {
    optimise.disabled = running(ctx.job);
    optimise.textContent = running(ctx.job) ? "Optimising…" : "Optimise";
  }
  for (const id of ["publish", "preview-plan"]) {
    const button = document.getElementById(id);
    if (button && running(ctx.job)) button.disabled = true;
  }
}

async function startOptimise(ctx) {
  if (running(ctx.job)) return;
  const regionCode = ctx.state.region.code;
  const date = ctx.day.date;
  try {
    const { body } = await api("POST", "/api/v1/plans", { body: { region: regionCode, starts_on: date, days: 1 }, idempotent: true });
    ctx.job = { ...body, regionCode, date };
    renderJob(ctx);
    await follow(ctx, body.id, regionCode, date);
  } catch (error) {
    if (ctx.job && running(ctx.job)) ctx.job = { ...ctx.job, status: "failed", message: "lost track of the job" };
    renderJob(ctx);
    report(error);
  }
}

async function follow(ctx, id, regionCode, date) {
  let job;
  for (;;) {
    await sleep(POLL_MS);
    job = (await api("GET", `/api/v1/jobs/${id}`)).body;
    ctx.job = { ...job, regionCode, date };
    renderJob(ctx);
    if (!running(job)) break;
  }
  if (job.status === "failed") {
    report(new Error(`planning ${regionCode} for ${date} failed: ${job.message}`));
    return;
  }
  // The job's result carries the plan's figures (the board reloads the plan list itself).
  const made = job.result?.regions?.[regionCode];
  const here = sameDay(ctx, ctx.job) && ctx.state.view === "day";
  // The new draft is what the dispatcher wants to look at before publishing it.
  if (here && made?.plan_id) ctx.state.preview = made.plan_id;
  if (here) await ctx.refresh();
  if (made?.error) {
    report(new Error(`planning ${regionCode} for ${date} failed: ${made.error}`));
  } else if (made?.plan_id) {
    showNotice(
      `Plan v${made.version} for ${regionCode} ${dayLabel(date)} is ready: ${made.assigned} of ${made.visits} visits assigned, ${made.unassigned} unassigned, ${Number(made.travel_km).toFixed(0)} km of travel. ${here ? "The board previews it; publish" : "Publish"} it to put it in force.`,
    );
  }
}

async function publishPlan(ctx, ref) {
  const button = document.getElementById("publish");
  if (button) button.disabled = true;
  try {
    const { body } = await api("POST", `/api/v1/plans/${ref.id}/publish`);
    // In force now: the routes in force are the published ones (manual moves to come included).
    ctx.state.preview = null;
    await ctx.refresh();
    showNotice(
      `Published plan v${body.plan.version}: ${body.scheduled} visits scheduled, ${body.unscheduled} sent back to unscheduled${body.superseded.length ? `, ${body.superseded.length} older plan(s) superseded` : ""}.`,
    );
  } catch (error) {
    if (error instanceof ProblemError && error.status === 409) await ctx.refresh();
    else if (button) button.disabled = false;
    report(error);
  }
}
