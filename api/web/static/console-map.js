// The day's routes as an SVG map drawn from the GeoJSON: no tiles, an equirectangular
// projection fitted to the routes' bounding box, one colour per technician, numbered stops,
// home bases and a legend whose entries highlight one route. A previewed plan's routes are
// dashed and say so.
import { clock, h } from "/static/common.js";
import { emptyState, svg } from "/static/console-util.js";

// Dark enough for white stop numbers (at least 4.5:1), distinct side by side.
export const ROUTE_COLOURS = ["#1f5fa8", "#b8312f", "#1e7b45", "#7a3b98", "#a65d00", "#00727d", "#b0246a", "#4e5d6c", "#6b5a1e", "#2f3f9e", "#8e3a3a", "#2d6a4f"];
const WIDTH = 640;
const HEIGHT = 440;
const PAD = 28;

export function routeColour(index) {
  return ROUTE_COLOURS[index % ROUTE_COLOURS.length];
}

/** Where lon/lat land in the box: equirectangular, scaled to the bounding box of ``points``. */
function projection(points) {
  let minLon = Infinity;
  let maxLon = -Infinity;
  let minLat = Infinity;
  let maxLat = -Infinity;
  for (const [lon, lat] of points) {
    minLon = Math.min(minLon, lon);
    maxLon = Math.max(maxLon, lon);
    minLat = Math.min(minLat, lat);
    maxLat = Math.max(maxLat, lat);
  }
  const k = Math.cos((((minLat + maxLat) / 2) * Math.PI) / 180);
  const spanX = Math.max((maxLon - minLon) * k, 1e-4);
  const spanY = Math.max(maxLat - minLat, 1e-4);
  const scale = Math.min((WIDTH - 2 * PAD) / spanX, (HEIGHT - 2 * PAD) / spanY);
  const offsetX = (WIDTH - spanX * scale) / 2;
  const offsetY = (HEIGHT - spanY * scale) / 2;
  return {
    x: (lon) => offsetX + (lon - minLon) * k * scale,
    y: (lat) => offsetY + (maxLat - lat) * scale,
    kmPerUnit: 111.32 / scale,
  };
}

export function routesMap(ctx) {
  const { geo, board, tz, preview } = ctx.day;
  const routes = geo.features.filter((f) => f.properties.kind === "route");
  const title = preview ? `Map of plan v${preview.version}'s routes (${preview.status === "draft" ? "draft preview, not published" : `preview, ${preview.status}`})` : "Map of the day's routes";
  const section = h(
    "section",
    { class: preview ? "panel map-panel preview" : "panel map-panel", "aria-labelledby": "map-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "map-title" }, title), h("p", { class: "panel-note" }, `${routes.length} route${routes.length === 1 ? "" : "s"}`)),
  );
  if (!routes.length) {
    section.append(emptyState(preview ? `Plan v${preview.version} places no visit on this day.` : "No routes planned for this day — Optimise to plan it."));
    return section;
  }
  const names = new Map(board.technicians.map((t) => [t.technician, t.name]));
  const order = new Map(board.technicians.map((t, i) => [t.technician, i]));
  const colour = (tech) => routeColour(order.get(tech) ?? 0);
  const dash = (tech) => ((order.get(tech) ?? 0) >= ROUTE_COLOURS.length ? "7 4" : null);
  const points = routes.flatMap((f) => f.geometry.coordinates);
  const p = projection(points);
  const map = svg("svg", {
    class: preview ? "routes-map preview" : "routes-map",
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: "img",
    "aria-labelledby": "map-title map-desc",
  });
  map.append(
    svg(
      "desc",
      { id: "map-desc" },
      `${preview ? `Proposed by plan v${preview.version}, not the routes in force: ` : ""}${routes.length} routes; each starts and ends at the technician's home base (square) and numbers its stops in order.`,
    ),
    svg("rect", { class: "map-ground", x: 0, y: 0, width: WIDTH, height: HEIGHT }),
  );
  const grid = svg("g", { class: "map-grid", "aria-hidden": "true" });
  for (let x = 0; x <= WIDTH; x += 80) grid.append(svg("line", { x1: x, y1: 0, x2: x, y2: HEIGHT }));
  for (let y = 0; y <= HEIGHT; y += 80) grid.append(svg("line", { x1: 0, y1: y, x2: WIDTH, y2: y }));
  map.append(grid);
  const lines = svg("g", { class: "map-routes" });
  const homes = svg("g", { class: "map-homes" });
  const stops = svg("g", { class: "map-stops" });
  for (const route of routes) {
    const tech = route.properties.technician;
    const coords = route.geometry.coordinates;
    const d = coords.map(([lon, lat], i) => `${i ? "L" : "M"}${p.x(lon).toFixed(1)} ${p.y(lat).toFixed(1)}`).join("");
    lines.append(
      svg(
        "path",
        { d, class: "route", stroke: colour(tech), "stroke-dasharray": dash(tech), "data-route": tech },
        svg("title", {}, `${names.get(tech) || tech} (${tech}): ${route.properties.stops} stops, ${route.properties.travel_km} km`),
      ),
    );
    const [hx, hy] = [p.x(coords[0][0]), p.y(coords[0][1])];
    homes.append(
      svg(
        "g",
        { class: "home", "data-route": tech, transform: `translate(${hx.toFixed(1)} ${hy.toFixed(1)})` },
        svg("path", { d: "M-7 -1 0 -8 7 -1V7H-7Z", fill: colour(tech) }),
        svg("title", {}, `Home base of ${names.get(tech) || tech}`),
      ),
    );
  }
  for (const feature of geo.features) {
    if (feature.properties.kind !== "stop") continue;
    const { technician, visit, sequence, planned_start: start } = feature.properties;
    const [lon, lat] = feature.geometry.coordinates;
    stops.append(
      svg(
        "g",
        { class: "stop", "data-route": technician, "data-stop": visit, transform: `translate(${p.x(lon).toFixed(1)} ${p.y(lat).toFixed(1)})` },
        svg("circle", { r: 8.5, fill: colour(technician) }),
        svg("text", { "text-anchor": "middle", dy: "0.35em" }, String(sequence + 1)),
        svg("title", {}, `${visit}: stop ${sequence + 1} of ${names.get(technician) || technician}, ${clock(start, tz)}`),
      ),
    );
  }
  map.append(lines, homes, stops, scaleBar(p));
  const legendItems = routes.map((route) => {
    const tech = route.properties.technician;
    const button = h(
      "button",
      { type: "button", class: "route-key", "aria-pressed": "false", dataset: { route: tech } },
      h("span", { class: "key-line", "aria-hidden": "true" }),
      h("span", { class: "key-name" }, names.get(tech) || tech),
      h("span", { class: "key-meta" }, `${route.properties.stops} stops · ${route.properties.travel_km} km`),
    );
    button.querySelector(".key-line").style.borderTopColor = colour(tech);
    if (dash(tech)) button.querySelector(".key-line").style.borderTopStyle = "dashed";
    button.addEventListener("click", () => highlight(section, map, button.getAttribute("aria-pressed") === "true" ? null : tech));
    return h("li", {}, button);
  });
  section.append(
    h("div", { class: "map-frame" }, map),
    h(
      "div",
      { class: "map-legend" },
      h(
        "p",
        { class: "map-symbols" },
        h("span", { class: "symbol-home", "aria-hidden": "true" }),
        "home base ",
        h("span", { class: "symbol-stop", "aria-hidden": "true" }, "1"),
        "stop in route order · north is up",
      ),
      h("ul", { class: "route-keys", "aria-label": "Routes (press to highlight one)" }, legendItems),
    ),
  );
  return section;
}

function highlight(section, map, tech) {
  map.classList.toggle("focused", Boolean(tech));
  for (const element of map.querySelectorAll("[data-route]")) element.classList.toggle("on", element.dataset.route === tech);
  for (const button of section.querySelectorAll(".route-key")) button.setAttribute("aria-pressed", String(button.dataset.route === tech));
}

/** A scale bar of a round number of kilometres, about a fifth of the map wide. */
function scaleBar(p) {
  const target = (WIDTH / 5) * p.kmPerUnit;
  const magnitude = 10 ** Math.floor(Math.log10(target));
  const kmLength = [1, 2, 5, 10].map((m) => m * magnitude).filter((v) => v <= target).pop() || magnitude;
  const length = kmLength / p.kmPerUnit;
  const x = 14;
  const y = HEIGHT - 14;
  return svg(
    "g",
    { class: "scale", "aria-hidden": "true" },
    svg("rect", { x: x - 6, y: y - 20, width: length + 12, height: 28, rx: 3, class: "scale-back" }),
    svg("path", { d: `M${x} ${y - 4}V${y}H${x + length}V${y - 4}` }),
    svg("text", { x: x + length / 2, y: y - 7, "text-anchor": "middle" }, `${kmLength} km`),
  );
}
