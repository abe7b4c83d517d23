// Request intake from the console: register a customer's request at one of its sites and, when
// it needs a technician, escalate it at once to an on-site visit that waits for the next plan.
// Problems are shown next to the fields they name.
import { api, clock, dayLabel, h, ProblemError, showNotice, today } from "/static/common.js";
import { localDate, report } from "/static/console-util.js";

const CHANNELS = ["phone", "email", "portal", "monitoring"];
const URGENCIES = [
  ["low", "Low"],
  ["normal", "Normal"],
  ["high", "High"],
  ["emergency", "Emergency"],
];
// Field names in problems (service and schema spellings) -> the form's controls.
const FIELD_ALIASES = {
  customer_code: "customer",
  contract_code: "contract",
  site_code: "site",
  new_site: "site",
  duration: "duration_minutes",
};

function fieldName(raw) {
  const name = String(raw || "")
    .replace(/^body\./, "")
    .split(".")[0];
  return FIELD_ALIASES[name] || name;
}

function options(items, value, label, placeholder) {
  return [h("option", { value: "" }, placeholder), ...items.map((item) => h("option", { value: value(item) }, label(item)))];
}

export async function showRegister(ctx, container) {
  const token = ctx.token();
  const { region } = ctx.state;
  container.setAttribute("aria-busy", "true");
  container.replaceChildren(h("p", { class: "loading" }, "Loading customers and skills…"));
  let customers;
  let skills;
  try {
    [customers, skills] = await Promise.all([
      api("GET", "/api/v1/customers?limit=500&sort=name").then((a) => a.body.items),
      api("GET", "/api/v1/skills?limit=500").then((a) => a.body.items),
    ]);
  } catch (error) {
    if (!ctx.current(token)) return;
    container.removeAttribute("aria-busy");
    report(error);
    container.replaceChildren(h("h1", {}, "Register a request"), h("p", { class: "empty" }, "Customers could not be loaded. ", h("button", { type: "button", onclick: () => ctx.refresh() }, "Try again")));
    return;
  }
  if (!ctx.current(token)) return;

  const control = (tag, attributes, ...children) => h(tag, { ...attributes, name: attributes.name || attributes.id.replace(/^req-/, "") }, ...children);
  const customer = control("select", { id: "req-customer", name: "customer", "aria-required": "true" }, options(customers, (c) => c.code, (c) => `${c.name} (${c.code})`, "Choose a customer…"));
  const contract = control("select", { id: "req-contract", name: "contract", "aria-required": "true", disabled: true }, h("option", { value: "" }, "Choose a customer first"));
  const site = control("select", { id: "req-site", name: "site", "aria-required": "true", disabled: true }, h("option", { value: "" }, "Choose a customer first"));
  const channel = control("select", { id: "req-channel", name: "channel" }, CHANNELS.map((c) => h("option", { value: c }, c.charAt(0).toUpperCase() + c.slice(1))));
  const urgency = control("select", { id: "req-urgency", name: "urgency" }, URGENCIES.map(([value, label]) => h("option", { value, selected: value === "normal" }, label)));
  const contactName = control("input", { id: "req-contact-name", name: "contact_name", autocomplete: "off", maxlength: 100, "aria-required": "true" });
  const contactPhone = control("input", { id: "req-contact-phone", name: "contact_phone", type: "tel", autocomplete: "off", maxlength: 32 });
  const description = control("textarea", { id: "req-description", name: "description", rows: 3, maxlength: 4000, "aria-required": "true" });
  const needsVisit = h("input", { id: "req-visit", name: "needs_visit", type: "checkbox", checked: true });
  const duration = control("input", { id: "req-duration", name: "duration_minutes", type: "number", min: 1, max: 1440, step: 5, value: 60, inputmode: "numeric" });
  const earliest = control("input", { id: "req-earliest", name: "earliest_date", type: "date", value: ctx.state.date });
  const due = control("input", { id: "req-due", name: "due_date", type: "date" });
  const notes = control("textarea", { id: "req-notes", name: "notes", rows: 2, maxlength: 4000 });
  const skillRows = skills.map((skill) => {
    const box = h("input", { type: "checkbox", id: `req-skill-${skill.code}`, value: skill.code });
    const level = h("select", { id: `req-level-${skill.code}`, "aria-label": `Minimum level of ${skill.name}`, disabled: true }, [1, 2, 3, 4, 5].map((n) => h("option", { value: n, selected: n === 2 }, `level ${n}`)));
    box.addEventListener("change", () => {
      level.disabled = !box.checked;
    });
    return { skill, box, level, row: h("div", { class: "skill" }, box, h("label", { for: box.id }, skill.name), level) };
  });
  const skillSet = h("fieldset", { class: "skills", dataset: { field: "skills" } }, h("legend", {}, "Required skills"), h("div", { class: "skill-grid" }, skillRows.map((s) => s.row)));
  const visitPart = h(
    "fieldset",
    { class: "visit-part" },
    h("legend", {}, "On-site visit"),
    h("div", { class: "field-row" }, field("Duration (minutes)", duration, "duration_minutes"), field("Earliest day", earliest, "earliest_date"), field("Due day (optional)", due, "due_date")),
    skillSet,
    field("Notes for the technician (optional)", notes, "notes"),
  );
  needsVisit.addEventListener("change", () => {
    visitPart.disabled = !needsVisit.checked;
  });
  const submit = h("button", { type: "submit" }, "Register request");
  const result = h("div", { id: "register-result", class: "register-result", role: "status", "aria-live": "polite" });
  let sites = [];
  let pending = null; // a request registered whose visit could not be made yet

  customer.addEventListener("change", async () => {
    contract.disabled = site.disabled = true;
    contract.replaceChildren(h("option", { value: "" }, "Loading…"));
    site.replaceChildren(h("option", { value: "" }, "Loading…"));
    if (!customer.value) return;
    const code = encodeURIComponent(customer.value);
    try {
      const [contracts, found] = await Promise.all([
        api("GET", `/api/v1/contracts?customer=${code}&valid_on=${today(region.timezone)}&limit=500`).then((a) => a.body.items),
        api("GET", `/api/v1/sites?customer=${code}&limit=500`).then((a) => a.body.items),
      ]);
      sites = found;
      sites.sort((a, b) => Number(b.region === region.code) - Number(a.region === region.code) || a.name.localeCompare(b.name));
      contract.replaceChildren(...options(contracts, (c) => c.code, (c) => `${c.name} (${c.code}, ${c.tier})`, contracts.length ? "Choose a contract…" : "No contract valid today"));
      if (contracts.length === 1) contract.value = contracts[0].code;
      site.replaceChildren(...options(sites, (s) => s.code, (s) => `${s.name} (${s.code}, ${s.region})`, sites.length ? "Choose a site…" : "No site yet"));
      contract.disabled = site.disabled = false;
    } catch (error) {
      report(error);
    }
  });
  site.addEventListener("change", () => {
    const chosen = sites.find((s) => s.code === site.value);
    if (chosen && !contactName.value) contactName.value = chosen.contact_name || "";
    if (chosen && !contactPhone.value) contactPhone.value = chosen.contact_phone || "";
  });

  const form = h(
    "form",
    { class: "register-form panel", id: "register-form", "aria-labelledby": "register-title", novalidate: true },
    h("h2", { id: "register-title" }, "New service request"),
    h("p", { class: "hint" }, "Fields marked * are required. The SLA deadline is computed from the contract as soon as the request is registered."),
    h("div", { class: "field-row" }, field("Customer *", customer, "customer"), field("Contract *", contract, "contract")),
    h("div", { class: "field-row" }, field("Site *", site, "site"), field("Channel", channel, "channel"), field("Urgency (sets priority)", urgency, "urgency")),
    h("div", { class: "field-row" }, field("Contact name *", contactName, "contact_name"), field("Contact phone", contactPhone, "contact_phone")),
    field("What is wrong *", description, "description"),
    h("div", { class: "check" }, needsVisit, h("label", { for: "req-visit" }, "Needs a technician on site (escalate to a visit now)")),
    visitPart,
    h("div", { class: "actions" }, submit),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    submit.disabled = true;
    try {
      let request = pending;
      if (!request) {
        const body = {
          customer: customer.value,
          contract: contract.value,
          site: site.value || null,
          channel: channel.value,
          urgency: urgency.value,
          contact_name: contactName.value.trim(),
          contact_phone: contactPhone.value.trim() || null,
          description: description.value.trim(),
        };
        request = (await api("POST", "/api/v1/requests", { body, idempotent: true })).body;
      }
      let visit = null;
      if (needsVisit.checked) {
        pending = request;
        const skillsNeeded = Object.fromEntries(skillRows.filter((s) => s.box.checked).map((s) => [s.skill.code, Number(s.level.value)]));
        const body = {
          duration_minutes: duration.value === "" ? null : Number(duration.value),
          skills: skillsNeeded,
          earliest_date: earliest.value || null,
          due_date: due.value || null,
          notes: notes.value.trim() || null,
        };
        visit = (await api("POST", `/api/v1/requests/${encodeURIComponent(request.code)}/escalate`, { body })).body;
      }
      pending = null;
      lockRequestFields(false);
      showResult(ctx, result, request, visit);
      showNotice(visit ? `Request ${request.code} registered; visit ${visit.code} waits for the next plan.` : `Request ${request.code} registered (pending first line).`);
      form.reset();
      earliest.value = ctx.state.date;
      for (const s of skillRows) s.level.disabled = true;
      contract.disabled = site.disabled = true;
    } catch (error) {
      markErrors(form, error);
      report(error);
      if (pending) {
        lockRequestFields(true);
        result.replaceChildren(
          h(
            "div",
            { class: "banner notice" },
            `Request ${pending.code} is registered; its visit could not be created yet. Correct the visit fields and press “Create the visit”.`,
          ),
        );
      }
    } finally {
      submit.disabled = false;
      submit.textContent = pending ? `Create the visit for ${pending.code}` : "Register request";
    }
  });

  function lockRequestFields(locked) {
    for (const c of [customer, contract, site, channel, urgency, contactName, contactPhone, description, needsVisit]) c.disabled = locked;
  }

  container.replaceChildren(
    h(
      "div",
      { class: "register" },
      h("div", { class: "day-head" }, h("h1", {}, "Register a request"), h("p", { class: "zone-note" }, `Dates are local days of the site's region; the board shows ${region.name} (${region.timezone}).`)),
      h("div", { class: "register-grid" }, form, h("section", { class: "panel", "aria-labelledby": "result-title" }, h("h2", { id: "result-title" }, "Registered"), result)),
    ),
  );
  if (!result.childElementCount) result.append(h("p", { class: "empty" }, "Nothing registered yet in this session."));
  container.removeAttribute("aria-busy");
}

function field(label, control, name) {
  const id = control.id;
  return h("div", { class: "field", dataset: { field: name } }, h("label", { for: id }, label), control);
}

function clearErrors(form) {
  for (const note of form.querySelectorAll(".field-error")) note.remove();
  for (const bad of form.querySelectorAll("[aria-invalid]")) {
    bad.removeAttribute("aria-invalid");
    bad.removeAttribute("aria-describedby");
  }
}

/** Writes each problem's message under the field it names; focuses the first. */
function markErrors(form, error) {
  if (!(error instanceof ProblemError)) return;
  const errors = Array.isArray(error.problem.errors) ? error.problem.errors : [];
  let first = null;
  for (const problem of errors) {
    const name = fieldName(problem.field ?? problem.loc);
    const holder = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (!holder) continue;
    const control = holder.querySelector("input, select, textarea");
    const id = `err-${name}`;
    const text = /at least 1 character/.test(problem.message || "") ? "Required: please fill this in." : problem.message || "Not valid";
    if (!holder.querySelector(`#${CSS.escape(id)}`)) holder.append(h("p", { class: "field-error", id }, text));
    if (control) {
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", id);
      first = first || control;
    }
  }
  first?.focus();
}

function showResult(ctx, box, request, visit) {
  const tz = ctx.state.regions.find((r) => r.code === request.region)?.timezone || ctx.state.region.timezone;
  const at = (iso) => `${dayLabel(localDate(iso, tz))} ${clock(iso, tz)}`;
  const card = h(
    "article",
    { class: "created", dataset: { request: request.code } },
    h("h3", {}, `Request ${request.code}`),
    h(
      "dl",
      {},
      h("dt", {}, "Customer"),
      h("dd", {}, `${request.customer} · contract ${request.contract}`),
      h("dt", {}, "Site"),
      h("dd", {}, `${request.site} (${request.region})`),
      h("dt", {}, "SLA response due"),
      h("dd", {}, request.sla_due_at ? `${at(request.sla_due_at)} (${tz})` : "no SLA"),
      h("dt", {}, "Status"),
      h("dd", {}, visit ? "escalated to a visit" : request.triage),
      visit ? [h("dt", {}, "Visit"), h("dd", { dataset: { createdVisit: visit.code } }, `${visit.code} · ${visit.duration_minutes} min · priority ${visit.priority} · open ${dayLabel(visit.earliest_date)} – due ${dayLabel(visit.due_date)}`)] : null,
    ),
    visit
      ? h(
          "button",
          {
            type: "button",
            class: "secondary",
            onclick: () => {
              const current = ctx.state.date;
              const date = current >= visit.earliest_date && current <= visit.due_date ? current : visit.earliest_date;
              ctx.go({ view: "day", region: visit.region, date, selected: visit.code });
            },
          },
          `Show ${visit.code} on the day board`,
        )
      : null,
  );
  box.querySelector(".empty")?.remove();
  box.prepend(card);
}
