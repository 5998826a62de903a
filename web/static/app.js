// latentspace's page: the URL's query string is the state; every view renders from it.
// No framework, no build step: it talks JSON to the gateway's /api routes.
"use strict";

const $ = (id) => document.getElementById(id);
const VIEWS = ["search", "item", "analogy", "shift", "walk", "directions", "atlas", "info"];
let uploaded = null;        // the image the user dropped, pasted or chose (kept in memory only)
let uploadedUrl = null;     // its blob: URL, for the chip's preview
let renderCount = 0;        // a newer render makes the answers of an older one stale

// -- helpers ---------------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

class ApiError extends Error {}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (exc) {
    throw new ApiError("The web gateway cannot be reached: is `latentspace web` (or `serve --web-port`) still running?");
  }
  let body = null;
  try { body = await response.json(); } catch (exc) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    throw new ApiError(message + (response.status === 503 ? " (the search server is down or restarting)" : ""));
  }
  return body;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function params() { return new URLSearchParams(location.search); }

function go(next, { replace = false } = {}) {
  const query = next.toString();
  const url = query ? `/?${query}` : "/";
  if (url !== location.pathname + location.search) {
    history[replace ? "replaceState" : "pushState"](null, "", url);
  }
  render();
}

function thumb(id, size) { return `/api/thumbnails/${id}.png` + (size ? `?size=${size}` : ""); }

function baseName(path) { return path.split("/").pop(); }

function altText(hit) {
  return `${hit.label || "unlabelled"} image ${baseName(hit.path)}, item ${hit.id}`;
}

function ints(list) { return list.flatMap((v) => v.split(",")).filter((v) => v !== "").map(Number); }

// -- the search view's query: positive and negative terms ------------------------------------

function searchQuery(p) {
  const positive = p.has("id") ? [Number(p.get("id"))] : ints(p.getAll("p"));
  return {
    positive, negative: ints(p.getAll("n")), upload: p.get("upload") === "1",
    method: p.get("method") || "average", k: p.get("k") || "10", label: p.get("label") || "",
  };
}

function queryParams(q) {
  const next = new URLSearchParams();
  const terms = q.positive.length + q.negative.length + (q.upload ? 1 : 0);
  if (q.upload) next.set("upload", "1");
  if (!q.upload && q.positive.length === 1 && q.negative.length === 0) next.set("id", q.positive[0]);
  else {
    q.positive.forEach((i) => next.append("p", i));
    q.negative.forEach((i) => next.append("n", i));
  }
  if (terms > 1) next.set("method", q.method);
  if (q.k && q.k !== "10") next.set("k", q.k);
  if (q.label) next.set("label", q.label);
  return next;
}

function toggle(q, id, positive) {
  const add = positive ? q.positive : q.negative;
  const other = positive ? q.negative : q.positive;
  const next = { ...q, positive: [...q.positive], negative: [...q.negative] };
  const [mine, theirs] = positive ? [next.positive, next.negative] : [next.negative, next.positive];
  if (add.includes(id)) mine.splice(mine.indexOf(id), 1);
  else mine.push(id);
  if (other.includes(id)) theirs.splice(theirs.indexOf(id), 1);
  return next;
}

// -- tiles -----------------------------------------------------------------------------------

function tile(hit, { size, query = null, compact = false } = {}) {
  const pick = el("button", { type: "button", class: "pick", title: `Search from item ${hit.id}`,
                              onclick: () => go(new URLSearchParams({ id: hit.id })) },
                  el("img", { src: thumb(hit.id, size), alt: altText(hit), width: 128, height: 128, loading: "lazy" }));
  const caption = el("figcaption", {},
    el("span", { class: "label", text: hit.label || "—" }),
    hit.score === undefined ? null : el("span", { class: "score", text: Number(hit.score).toFixed(3), title: "score" }),
    el("a", { href: `/?view=item&id=${hit.id}`, "data-nav": true, text: `#${hit.id}`, title: `Item ${hit.id}'s page` }));
  const figure = el("figure", { class: "tile", "data-id": hit.id }, pick, caption);
  if (query && !compact) {
    const more = el("button", { type: "button", class: "more", "aria-pressed": String(query.positive.includes(hit.id)),
                                onclick: () => go(queryParams(toggle(query, hit.id, true))) }, "more like this");
    const less = el("button", { type: "button", class: "less", "aria-pressed": String(query.negative.includes(hit.id)),
                                onclick: () => go(queryParams(toggle(query, hit.id, false))) }, "less like this");
    more.setAttribute("aria-label", `More like item ${hit.id}`);
    less.setAttribute("aria-label", `Less like item ${hit.id}`);
    figure.append(el("div", { class: "toggles" }, more, less));
  }
  return figure;
}

function showHits(container, hits, options = {}) {
  container.replaceChildren(...hits.map((hit) => tile(hit, options)));
  if (!hits.length) container.append(el("p", { class: "status", text: "No results." }));
}

// -- views -----------------------------------------------------------------------------------

async function renderSearch(p, stale) {
  const q = searchQuery(p);
  if (q.upload && !uploaded) {
    q.upload = false;
    history.replaceState(null, "", "/?" + queryParams(q).toString());
    showError("An uploaded image is not kept over a reload or a shared link: drop it again.");
  }
  $("search-id").value = q.positive.length === 1 && !q.upload ? q.positive[0] : "";
  $("search-k").value = q.k;
  $("search-label").value = q.label;
  $("search-method").value = q.method;
  const terms = q.positive.length + q.negative.length + (q.upload ? 1 : 0);
  $("method-box").hidden = terms < 2;
  renderChips(q);
  const results = $("search-results");
  if (!terms) {
    results.replaceChildren();
    $("search-status").textContent = "Drop an image, or give an item id, to see its neighbours.";
    return;
  }
  $("search-status").textContent = "Searching…";
  const common = new URLSearchParams({ k: q.k });
  if (q.label) common.set("label", q.label);
  let path, options = {};
  if (terms === 1 && q.upload) path = `/api/search?${common}`;
  else if (terms === 1 && q.positive.length === 1) path = `/api/search?id=${q.positive[0]}&${common}`;
  else {
    q.positive.forEach((i) => common.append("p", i));
    q.negative.forEach((i) => common.append("n", i));
    common.set("method", q.method);
    path = `/api/combine?${common}`;
  }
  if (q.upload) options = { method: "POST", body: uploaded, headers: { "Content-Type": "application/octet-stream" } };
  const answer = await api(path, options);
  if (stale()) return;
  $("search-status").textContent = `${answer.hits.length} results` + (answer.metric ? ` (${answer.metric})` : "");
  showHits(results, answer.hits, { query: q });
}

function renderChips(q) {
  const chips = [];
  const remove = (change) => go(queryParams(change));
  if (q.upload) {
    chips.push(el("li", { class: "chip positive" }, el("img", { src: uploadedUrl, alt: "the uploaded image" }),
      "+ uploaded image",
      el("button", { type: "button", "aria-label": "Remove the uploaded image from the query",
                     onclick: () => { uploaded = null; remove({ ...q, upload: false }); } }, "×")));
  }
  for (const [list, sign, cls] of [[q.positive, "+", "positive"], [q.negative, "−", "negative"]]) {
    for (const id of list) {
      const without = { ...q, positive: q.positive.filter((i) => !(cls === "positive" && i === id)),
                        negative: q.negative.filter((i) => !(cls === "negative" && i === id)) };
      chips.push(el("li", { class: `chip ${cls}`, "data-id": id },
        el("img", { src: thumb(id, 64), alt: `item ${id}` }), `${sign} #${id}`,
        el("button", { type: "button", "aria-label": `Remove item ${id} from the query`, onclick: () => remove(without) }, "×")));
    }
  }
  $("chips").replaceChildren(...chips);
}

async function renderItem(p, stale) {
  const id = Number(p.get("id"));
  if (!p.has("id") || !Number.isInteger(id)) throw new ApiError("The item page needs ?view=item&id=N.");
  $("item-title").textContent = `Item ${id}`;
  const [item, neighbours] = await Promise.all([api(`/api/items/${id}`), api(`/api/search?id=${id}&k=12`)]);
  if (stale()) return;
  const picture = $("item-picture");
  picture.src = thumb(id, 384);
  picture.alt = altText(item);
  const rows = [["label", item.label || "—"], ["path", item.path], ["size", `${item.width} × ${item.height} px`],
                ["sha256", item.sha256]];
  if (item.stored_file) rows.push(["stored as", item.stored_file]);
  $("item-meta").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
  showHits($("item-results"), neighbours.hits);
}

async function renderAnalogy(p, stale) {
  for (const name of ["a", "b", "c"]) $(`analogy-${name}`).value = p.get(name) || "";
  $("analogy-method").value = p.get("method") || "add";
  if (!p.has("a") || !p.has("b") || !p.has("c")) { $("analogy-results").replaceChildren(); return; }
  const query = new URLSearchParams({ method: p.get("method") || "add", k: p.get("k") || "10" });
  query.append("p", p.get("a")); query.append("n", p.get("b")); query.append("p", p.get("c"));
  const answer = await api(`/api/combine?${query}`);
  if (!stale()) showHits($("analogy-results"), answer.hits);
}

async function loadDirections(select) {
  const { directions } = await api("/api/directions");
  const current = select.value;
  select.replaceChildren(...directions.map((d) => el("option", { value: d.name, text: d.name })));
  if (!directions.length) select.append(el("option", { value: "", text: "none yet: create one under Directions" }));
  if (current) select.value = current;
  return directions;
}

async function renderShift(p, stale) {
  await loadDirections($("shift-direction"));
  if (stale()) return;
  $("shift-id").value = p.get("id") || "";
  if (p.get("direction")) $("shift-direction").value = p.get("direction");
  $("shift-alpha").value = p.get("alpha") || "0.5";
  $("shift-alpha-value").textContent = $("shift-alpha").value;
  if (!p.has("id") || !p.get("direction")) { $("shift-results").replaceChildren(); return; }
  const query = new URLSearchParams({ id: p.get("id"), direction: p.get("direction"), alphas: p.get("alpha") || "0.5",
                                      k: p.get("k") || "10" });
  const answer = await api(`/api/shift?${query}`);
  if (stale()) return;
  const [step] = answer.steps;
  $("shift-status").textContent = `neighbours at strength α = ${step.alpha}`;
  showHits($("shift-results"), step.hits);
}

async function renderWalk(p, stale) {
  $("walk-a").value = p.get("a") || "";
  $("walk-b").value = p.get("b") || "";
  $("walk-steps").value = p.get("steps") || "6";
  $("walk-k").value = p.get("k") || "6";
  $("walk-slerp").checked = p.get("slerp") === "1";
  $("walk-unique").checked = p.get("unique") === "1";
  const strip = $("walk-strip");
  if (!p.has("a") || !p.has("b")) { strip.replaceChildren(); return; }
  const query = new URLSearchParams({ a: p.get("a"), b: p.get("b"), steps: $("walk-steps").value, k: $("walk-k").value,
                                      slerp: p.get("slerp") || "0", unique: p.get("unique") || "0", include_ends: "1" });
  const answer = await api(`/api/walk?${query}`);
  if (stale()) return;
  strip.replaceChildren(...answer.steps.map((step) => el("div", { class: "step-row", "data-t": step.t },
    el("span", { class: "t", text: `t = ${Number(step.t).toFixed(2)}` }),
    el("div", { class: "strip" }, ...step.hits.map((hit) => tile(hit, { compact: true }))))));
}

async function renderDirections(p, stale) {
  const directions = await api("/api/directions");
  if (stale()) return;
  const rows = directions.directions.map((d) => el("tr", { "data-name": d.name },
    el("td", { text: d.name }), el("td", { text: d.kind }), el("td", { text: d.description }),
    el("td", {}, el("button", { type: "button", class: "plain", "aria-label": `Delete direction ${d.name}`,
                                onclick: () => deleteDirection(d.name) }, "delete"))));
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 4, text: "No directions stored yet." })));
  $("directions-list").replaceChildren(...rows);
}

async function deleteDirection(name) {
  try {
    await api(`/api/directions/${encodeURIComponent(name)}`, { method: "DELETE" });
    $("direction-status").textContent = `deleted ${name}`;
    render();
  } catch (exc) { showError(exc.message); }
}

async function renderAtlas(p, stale) {
  const grid = p.get("grid") || "12", projection = p.get("projection") || "umap";
  $("atlas-grid").value = grid;
  $("atlas-projection").value = projection;
  $("atlas-status").textContent = "Laying the index out (the first time can take a while)…";
  const atlas = await api(`/api/atlas?grid=${encodeURIComponent(grid)}&projection=${encodeURIComponent(projection)}`);
  if (stale()) return;
  const map = $("atlas-map");
  map.style.gridTemplateColumns = `repeat(${atlas.columns}, 1fr)`;
  map.replaceChildren(...atlas.cells.map((cell) => {
    const button = el("button", { type: "button", title: `${cell.label || "unlabelled"} · item ${cell.id}: search from it`,
                                  onclick: () => go(new URLSearchParams({ id: cell.id })) },
                      el("img", { src: thumb(cell.id, 64), alt: altText(cell), loading: "lazy" }));
    button.style.gridRow = String(cell.row + 1);
    button.style.gridColumn = String(cell.column + 1);
    return button;
  }));
  $("atlas-status").textContent = `${atlas.items} items, ${atlas.cells.length} of ${atlas.rows}×${atlas.columns} cells ` +
    `(${atlas.projection}); click a cell to search from it`;
}

async function renderInfo(p, stale) {
  const info = await loadInfo();
  if (stale()) return;
  const rows = [["items", info.item_count], ["embedder", `${info.model} ${info.layer}, ${info.dimension}-d, on ${info.device}`],
    ["weights", `${info.weights.choice}: ${info.weights.description}`],
    ["pretrained", info.weights.pretrained ? "yes" : "no: neighbours are not semantically meaningful"],
    ["metric", info.metric], ["FAISS", info.uses_faiss ? info.faiss_factory : `exact search (${info.faiss_factory} not trained yet)`],
    ["limits", `k ≤ ${info.limits.max_k}, ${(info.limits.max_message_bytes / 1048576).toFixed(0)} MiB per message`],
    ["versions", Object.entries(info.versions).map(([k, v]) => `${k} ${v}`).join(", ")]];
  $("info-list").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })]));
}

const RENDER = { search: renderSearch, item: renderItem, analogy: renderAnalogy, shift: renderShift, walk: renderWalk,
                 directions: renderDirections, atlas: renderAtlas, info: renderInfo };

async function render() {
  const p = params();
  const view = VIEWS.includes(p.get("view")) ? p.get("view") : "search";
  const mine = ++renderCount;
  const stale = () => mine !== renderCount;
  showError("");
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll("nav a[data-view]")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `latentspace · ${view}`;
  try {
    await RENDER[view](p, stale);
  } catch (exc) {
    if (stale()) return;
    for (const status of document.querySelectorAll(".status")) if (status.textContent.endsWith("…")) status.textContent = "";
    showError(exc instanceof ApiError ? exc.message : `Something went wrong on this page: ${exc.message}`);
  }
}

// -- the index's summary, banner and labels --------------------------------------------------

let infoPromise = null;
function loadInfo() {
  infoPromise = api("/api/info");
  return infoPromise;
}

async function loadHeader() {
  try {
    const info = await loadInfo();
    $("summary").textContent = `${info.item_count} items · ${info.model} ${info.layer} · ${info.metric}`;
    if (!info.weights.pretrained) {
      $("banner").textContent = `This index was built with untrained weights (${info.weights.description}): ` +
        "its neighbours are not semantically meaningful.";
      $("banner").hidden = false;
    }
    const { labels } = await api("/api/labels");
    $("search-label").append(...labels.map((label) => el("option", { value: label, text: label })));
    const wanted = params().get("label");
    if (wanted) $("search-label").value = wanted;
  } catch (exc) {
    showError(exc.message);
  }
}

// -- uploads: drop, paste, choose ------------------------------------------------------------

function useUpload(file) {
  if (!file) return;
  if (uploadedUrl) URL.revokeObjectURL(uploadedUrl);
  uploaded = file;
  uploadedUrl = URL.createObjectURL(file);
  const q = searchQuery(new URLSearchParams());
  q.upload = true;
  q.k = $("search-k").value || "10";
  q.label = $("search-label").value;
  go(queryParams(q));
}

function wireUploads() {
  const drop = $("drop");
  $("file").addEventListener("change", (event) => { useUpload(event.target.files[0]); event.target.value = ""; });
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) drop.addEventListener(name, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => { event.preventDefault(); useUpload(event.dataTransfer.files[0]); });
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", (event) => event.preventDefault());
  document.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData ? event.clipboardData.files : [])][0];
    if (file) { event.preventDefault(); useUpload(file); }
  });
}

// -- forms -----------------------------------------------------------------------------------

function wireForms() {
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = searchQuery(params().get("view") ? new URLSearchParams() : params());
    const id = $("search-id").value;
    if (id !== "") { q.positive = [Number(id)]; q.negative = []; q.upload = false; }
    q.k = $("search-k").value || "10";
    q.label = $("search-label").value;
    q.method = $("search-method").value;
    go(queryParams(q));
  });
  for (const id of ["search-k", "search-label", "search-method"]) {
    $(id).addEventListener("change", () => $("search-form").requestSubmit());
  }
  $("analogy-form").addEventListener("submit", (event) => {
    event.preventDefault();
    go(new URLSearchParams({ view: "analogy", a: $("analogy-a").value, b: $("analogy-b").value, c: $("analogy-c").value,
                             method: $("analogy-method").value }));
  });
  const shiftParams = () => new URLSearchParams({ view: "shift", id: $("shift-id").value,
    direction: $("shift-direction").value, alpha: $("shift-alpha").value });
  $("shift-form").addEventListener("submit", (event) => { event.preventDefault(); go(shiftParams()); });
  let timer = null;
  $("shift-alpha").addEventListener("input", () => {
    $("shift-alpha-value").textContent = $("shift-alpha").value;
    clearTimeout(timer);
    if ($("shift-id").value && $("shift-direction").value) timer = setTimeout(() => go(shiftParams(), { replace: true }), 150);
  });
  $("walk-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams({ view: "walk", a: $("walk-a").value, b: $("walk-b").value,
                                       steps: $("walk-steps").value, k: $("walk-k").value });
    if ($("walk-slerp").checked) next.set("slerp", "1");
    if ($("walk-unique").checked) next.set("unique", "1");
    go(next);
  });
  $("atlas-form").addEventListener("submit", (event) => {
    event.preventDefault();
    go(new URLSearchParams({ view: "atlas", grid: $("atlas-grid").value, projection: $("atlas-projection").value }));
  });
  $("direction-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const kind = $("direction-kind").value, a = $("direction-a").value.trim(), b = $("direction-b").value.trim();
    const body = { name: $("direction-name").value.trim() };
    if (kind === "sets") { body.positive = ints([a]); body.negative = ints([b]); }
    else body[kind] = [a, b];
    try {
      const created = await api("/api/directions", { method: "POST", body: JSON.stringify(body),
                                                     headers: { "Content-Type": "application/json" } });
      $("direction-status").textContent = `created ${created.name}: ${created.description}`;
      showError("");
      render();
    } catch (exc) { showError(exc.message); }
  });
}

// Links marked data-nav move within the page instead of reloading it.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-nav]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  go(new URL(link.href).searchParams);
});
window.addEventListener("popstate", render);
document.addEventListener("DOMContentLoaded", () => {
  wireUploads();
  wireForms();
  loadHeader();
  render();
});
