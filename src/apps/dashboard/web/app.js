// The br2k Service Registry Dashboard: plain JavaScript, no libraries, nothing fetched from the
// network but this replica and the dashboard's leader. Every string from the chain or the log is
// put in the page as text (textContent), never as HTML.
"use strict";

const POLL_MS = 2000;
let config = { leader_url: "", sender: "", registry: "" };
let timer = null;
let samples = {};  // service id -> [{t, ls}] of its leader, for the requests/s plot

// ---------- small DOM helpers ----------
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
const short = (s, n = 10) => (s && s.length > n + 6 ? s.slice(0, n) + "…" + s.slice(-4) : s || "");
const stateSpan = (s) => el("span", { class: "state-" + s }, s || "?");
// A manager's signed report on a claim (checked by the dashboard before it was recorded).
function managerReport(m) {
  if (!m) return el("span", { class: "muted" }, "no report yet");
  const took = m.action === "redeployed" ? ` in ${(m.recovery_ms / 1000).toFixed(1)} s` : "";
  return el("span", { title: m.detail || "" }, el("strong", {}, m.action + took), ` by ${short(m.manager)}`,
    m.detail ? el("span", { class: "muted" }, ` – ${m.detail}`) : null);
}
const view = () => document.getElementById("view");
function table(headers, rows, caption) {
  return el("div", { class: "scroll" }, el("table", {},
    caption ? el("caption", { class: "muted" }, caption) : null,
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.length ? rows : [el("tr", {}, el("td", { colspan: headers.length }, "none yet"))])));
}

// ---------- talking to the dashboard ----------
async function getJson(path) {
  const r = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.message || body.error || "HTTP " + r.status);
  return body;
}

async function refreshConfig() {
  try {
    config = await getJson("/api/config");
    document.getElementById("served").textContent =
      `served by replica ${config.replica} (${config.role}); leader ${config.leader || "unknown"}`;
  } catch (e) {
    document.getElementById("served").textContent = "this replica does not answer: " + e.message;
  }
}

// The exactly-once session of this tab: one client id, one increasing sequence number. Kept in
// sessionStorage (per tab): two tabs sharing one id could take the same number for two different
// requests, and the second would be answered as a retry of the first.
function session() {
  let id = sessionStorage.getItem("br2k-client");
  if (!id) {
    id = "web-" + Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
    sessionStorage.setItem("br2k-client", id);
  }
  const seq = Number(sessionStorage.getItem("br2k-seq") || "0") + 1;
  sessionStorage.setItem("br2k-seq", String(seq));
  return { id, seq };
}

// A logged write, sent to the leader (its URL from /api/config); retried with the same
// (client, seq) after a redirect or an unavailable leader, so it runs at most once.
async function write(method, path, body) {
  const s = session();
  let last = null;
  for (let attempt = 0; attempt < 5; attempt++) {
    const base = config.leader_url && config.leader_url !== location.origin ? config.leader_url : "";
    try {
      const r = await fetch(base + path, {
        method, body: body === undefined ? undefined : JSON.stringify(body),
        headers: { "Content-Type": "application/json", "X-Br2k-Client": s.id, "X-Br2k-Seq": String(s.seq) },
      });
      const out = await r.json().catch(() => ({}));
      if (r.ok) return out;
      if (r.status !== 307 && r.status !== 503) throw new Error(out.reason || out.message || out.error || "HTTP " + r.status);
      last = new Error(out.message || "HTTP " + r.status);
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;  // TypeError: the leader did not answer
      last = e;
    }
    await new Promise((res) => setTimeout(res, 500 * (attempt + 1)));
    await refreshConfig();
  }
  throw last || new Error("no leader answered");
}

// ---------- pages ----------
async function servicesPage() {
  const [svc, hist] = await Promise.all([getJson("/api/services?live=1"), getJson("/api/history").catch(() => null)]);
  const labels = {};
  for (const h of (hist && hist.services) || []) labels[h.id] = h.label;
  const cards = svc.services.map((s) => el("article", { class: "card" },
    el("h2", {}, el("a", { href: "#/service/" + s.id }, labels[s.id] || short(s.id, 14))),
    el("dl", {},
      el("dt", {}, "id"), el("dd", { class: "mono" }, s.id),
      el("dt", {}, "location"), el("dd", { class: "mono" }, s.location || "–"),
      el("dt", {}, "state"), el("dd", {}, stateSpan(s.state)),
      el("dt", {}, "leader"), el("dd", { class: "live-leader" }, liveText(s.live)),
      el("dt", {}, "epoch / version"), el("dd", {}, `${s.epoch ?? "–"} / ${s.version ?? "–"}`),
      el("dt", {}, "owner"), el("dd", { class: "mono" }, s.owner || "–"),
      el("dt", {}, "managers"), el("dd", { class: "mono" }, (s.managers || []).join(", ") || "–"),
      el("dt", {}, "operators"), el("dd", { class: "mono" }, (s.operators || []).join(", ") || "–"),
      el("dt", {}, "recovery"), el("dd", {}, recoveryText(s.recovery)))));
  view().replaceChildren(
    el("h2", {}, "Services"),
    el("p", { class: "muted" }, `registry ${svc.registry}, block ${svc.block}`),
    cards.length ? el("div", { class: "cards", id: "services" }, cards) : el("p", {}, "No service is registered."));
}

// What the service's location says of itself right now.
function liveText(live) {
  if (!live) return "–";
  if (!live.reachable) return el("span", { class: "bad" }, "location does not answer");
  if (live.role === "Leader") return el("span", { class: "ok" }, `${live.id} leads (epoch ${live.epoch}, LS ${live.ls})`);
  return `${live.id} is ${live.role}; leader ${live.leader || "unknown"}`;
}

function recoveryText(r) {
  if (!r) return "–";
  return `context ${r.deploy_context || "–"}, ${r.replicas} replica(s), registry ${r.container_registry || "–"}` +
    (r.images && r.images.length ? `, images ${r.images.join(", ")}` : "");
}

function linePlot(points, label, yLabel, empty) {
  const W = 360, H = 120, P = 24;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "plot");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
  };
  add("title", {}, label);
  if (points.length < 2) {
    add("text", { x: P, y: H / 2 }, empty);
    return svg;
  }
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y1 = Math.max(1, ...ys);
  const sx = (x) => P + ((x - x0) / Math.max(1e-9, x1 - x0)) * (W - 2 * P);
  const sy = (y) => H - P - (y / y1) * (H - 2 * P);
  add("line", { x1: P, y1: H - P, x2: W - P, y2: H - P, stroke: "#d0d7de" });
  add("polyline", { fill: "none", stroke: "#0a58ca", "stroke-width": 2,
    points: points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ") });
  add("text", { x: 2, y: P - 8 }, `${yLabel} (max ${y1.toFixed(1)})`);
  return svg;
}

async function servicePage(id) {
  const s = await getJson("/api/services/" + id);
  const rec = s.record || {};
  const h = s.history || { locations: [], claims: [], notes: [], states: [] };
  // Requests/s of the service's leader, from the LS it reports, sampled while this page is open.
  const leader = (s.replicas || []).find((r) => r.reachable && r.role === "Leader");
  const series = (samples[id] = samples[id] || []);
  if (leader) series.push({ t: Date.now() / 1000, ls: leader.ls });
  while (series.length > 60) series.shift();
  const rate = [];
  for (let i = 1; i < series.length; i++) {
    const dt = series[i].t - series[i - 1].t;
    if (dt > 0) rate.push([series[i].t - series[0].t, Math.max(0, (series[i].ls - series[i - 1].ls) / dt)]);
  }
  // Failover gaps: blocks between successive locations (a new leader's announcement).
  const gaps = [];
  for (let i = 1; i < h.locations.length; i++) gaps.push([i, h.locations[i].block - h.locations[i - 1].block]);

  const replicaRows = (s.replicas || []).map((r) => el("tr", {},
    el("td", { class: "mono" }, r.url), el("td", {}, r.reachable ? r.role : el("span", { class: "bad" }, "unreachable")),
    el("td", {}, r.lpi ?? "–"), el("td", {}, r.ssi ?? "–"), el("td", {}, r.ls ?? "–"),
    el("td", {}, r.reachable ? (r.healthy ? el("span", { class: "ok" }, "healthy") : el("span", { class: "bad" }, "unhealthy")) : "–"),
    el("td", { class: "hide-narrow" }, r.epoch ?? "–")));
  const timeline = h.locations.map((l) => el("tr", {},
    el("td", {}, l.block), el("td", {}, l.epoch), el("td", { class: "mono" }, l.location),
    el("td", { class: "mono hide-narrow" }, short(l.tx))));
  const claimRows = h.claims.map((c) => el("tr", {},
    el("td", {}, c.block), el("td", { class: "mono" }, short(c.claimant)), el("td", { class: "mono" }, c.location),
    el("td", {}, c.reason || "–"), el("td", {}, stateSpan(c.outcome)), el("td", { class: "manager-report" }, managerReport(c.manager)),
    el("td", {}, c.after.map((a) => a.kind === "StateChanged" ? `→ ${a.state} (block ${a.block})` : `→ ${a.location} (epoch ${a.epoch})`).join("; ") || "–"),
    el("td", {}, c.notes.map((n) => "#" + n).join(", ") || "–")));
  const noteRows = h.notes.map((n) => el("tr", {},
    el("td", {}, "#" + n.id), el("td", {}, n.author), el("td", {}, n.text), el("td", { class: "mono" }, n.claim ? short(n.claim, 12) : "–"),
    el("td", {}, el("button", { class: "secondary", type: "button", "aria-label": `Delete note ${n.id}`,
      onclick: () => act(() => write("DELETE", `/api/services/${id}/notes/${n.id}`)) }, "Delete"))));

  view().replaceChildren(
    el("h2", {}, h.label || "Service"),
    el("p", { class: "mono" }, id),
    el("div", { class: "cards" },
      el("section", { class: "card", "aria-labelledby": "hdr" }, el("h3", { id: "hdr" }, "On chain"),
        el("dl", {},
          el("dt", {}, "location"), el("dd", { class: "mono" }, rec.location || "–"),
          el("dt", {}, "state"), el("dd", {}, stateSpan(rec.state)),
          el("dt", {}, "epoch / version"), el("dd", {}, `${rec.epoch ?? "–"} / ${rec.version ?? "–"}`),
          el("dt", {}, "owner"), el("dd", { class: "mono" }, rec.owner || "–"),
          el("dt", {}, "managers"), el("dd", { class: "mono" }, (rec.managers || []).join(", ") || "–"),
          el("dt", {}, "operators"), el("dd", { class: "mono" }, (rec.operators || []).join(", ") || "–"),
          el("dt", {}, "recovery"), el("dd", {}, recoveryText(rec.recovery)))),
      el("section", { class: "card" }, el("h3", {}, "Leader's acknowledged requests/s"),
        linePlot(rate, "requests per second of the leader over the last minutes", "req/s",
          leader ? "collecting samples…" : "no leader of this service answers")),
      el("section", { class: "card" }, el("h3", {}, "Failover gaps (blocks between leaders)"),
        linePlot(gaps, "blocks between successive leader announcements", "blocks",
          "fewer than two leader announcements recorded"))),
    el("h3", {}, "Replicas (live)"),
    table(["URL", "role", "LPI", "SSI", "LS", "health", "epoch"], replicaRows,
      "the service's current and earlier locations that answer /status"),
    el("h3", {}, "Leader timeline"),
    table(["block", "epoch", "location", "tx"], timeline),
    el("h3", {}, "Claims"),
    table(["block", "claimant", "failed location", "reason", "state after", "manager's report", "what followed", "notes"], claimRows),
    el("p", {}, el("a", { href: `#/send?function=sendClaim&service=${id}&location=${encodeURIComponent(rec.location || "")}` }, "Send a claim for this service")),
    el("h3", {}, "Notes"),
    table(["id", "author", "text", "claim", ""], noteRows),
    noteForm(id, h.claims),
    labelForm(id, h.label),
    el("p", { class: "muted" }, `this replica's copy of the record is at log index ${s.lpi}`));
}

function noteForm(id, claims) {
  const form = el("form", { "aria-label": "Add a note" },
    el("label", {}, "Author", el("input", { name: "author", required: true, maxlength: 128, autocomplete: "name" })),
    el("label", {}, "Note", el("textarea", { name: "text", required: true, maxlength: 4096, rows: 3 })),
    el("label", {}, "About claim", el("select", { name: "claim" }, el("option", { value: "" }, "the service"),
      claims.map((c) => el("option", { value: c.key }, `block ${c.block}: ${c.reason || c.location}`)))),
    el("button", { type: "submit" }, "Add note"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const body = { author: f.get("author"), text: f.get("text") };
    if (f.get("claim")) body.claim = f.get("claim");
    act(() => write("POST", `/api/services/${id}/notes`, body));
  });
  return form;
}

function labelForm(id, label) {
  const form = el("form", { "aria-label": "Name this service" },
    el("label", {}, "Display name", el("input", { name: "label", value: label || "", maxlength: 128 })),
    el("button", { type: "submit", class: "secondary" }, "Save name"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    act(() => write("PUT", `/api/services/${id}/label`, { label: new FormData(form).get("label") }));
  });
  return form;
}

async function act(fn) {
  try { await fn(); render(); } catch (e) { alert(e.message); }
}

// ---------- transactions ----------
const FIELDS = {
  register: ["location", "deploy_context", "replicas", "container_registry", "images"],
  updateLocation: ["location", "epoch"],
  updateRecoveryInfo: ["deploy_context", "replicas", "container_registry", "images"],
  updateState: ["state"],
  addManager: ["account"], removeManager: ["account"], addOperator: ["account"], removeOperator: ["account"],
  sendClaim: ["location", "reason"],
};
const LABELS = { location: "Location (URL)", deploy_context: "Deploy context", replicas: "Replicas",
  container_registry: "Container registry", images: "Images (comma-separated)", epoch: "Epoch",
  state: "State", account: "Account (0x…)", reason: "Reason" };

function sendPage(params) {
  const fn = params.get("function") || "sendClaim";
  const hasWallet = typeof window.ethereum !== "undefined";
  const result = el("div", { id: "tx-result", role: "status", "aria-live": "polite" });
  const fields = el("div", {});
  const select = el("select", { name: "function", id: "function" },
    Object.keys(FIELDS).map((f) => el("option", { value: f, selected: f === fn }, f)));
  const fill = () => {
    fields.replaceChildren(...FIELDS[select.value].map((k) => k === "state"
      ? el("label", {}, LABELS[k], el("select", { name: k }, ["Active", "Failed", "Recovering", "Retired"].map((s) => el("option", {}, s))))
      : el("label", {}, LABELS[k], el("input", { name: k, value: params.get(k) || "",
        inputmode: k === "replicas" || k === "epoch" ? "numeric" : undefined }))));
  };
  select.addEventListener("change", fill);
  fill();
  const form = el("form", { "aria-label": "Registry transaction" },
    el("label", {}, "Function", select),
    el("label", {}, "Service (name or 0x id)", el("input", { name: "service", required: true, value: params.get("service") || "" })),
    fields,
    el("fieldset", {}, el("legend", {}, "Signed by"),
      el("label", {}, el("input", { type: "radio", name: "signer", value: "wallet", checked: hasWallet, disabled: !hasWallet }),
        hasWallet ? "my wallet (in this browser)" : "my wallet (none found in this browser)"),
      el("label", {}, el("input", { type: "radio", name: "signer", value: "dashboard", checked: !hasWallet, disabled: !config.sender }),
        config.sender ? `the dashboard's key ${short(config.sender)} (it must be a manager for manager-only functions)` : "the dashboard's key (not configured)")),
    el("button", { type: "submit" }, "Send"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const body = { function: f.get("function"), service: f.get("service") };
    for (const k of FIELDS[body.function]) {
      const v = f.get(k);
      if (k === "images") body.images = v ? v.split(",").map((s) => s.trim()).filter(Boolean) : [];
      else if (k === "replicas") body.replicas = Number(v || 0);
      else if (k === "epoch") body.epoch = v || "0";
      else body[k] = v;
    }
    result.replaceChildren(el("p", {}, "sending…"));
    try {
      const tx = f.get("signer") === "wallet" ? await sendWithWallet(body) : (await write("POST", "/api/send", body)).tx;
      result.replaceChildren(el("p", {}, "transaction ", el("code", { id: "tx-hash" }, tx), " sent; waiting for its receipt…"));
      const receipt = await waitReceipt(tx);
      if (receipt.status === "success" && body.function === "register" && !/^0x[0-9a-fA-F]{64}$/.test(body.service)) {
        // Name the new service in the dashboard by the name it was registered under.
        const id = (await postJson("/api/calldata", body)).service;
        await write("PUT", `/api/services/${id}/label`, { label: body.service }).catch(() => {});
      }
      result.className = "result " + (receipt.status === "success" ? "ok" : "bad");
      result.replaceChildren(el("p", {}, "transaction ", el("code", { id: "tx-hash" }, tx), ": ",
        el("strong", { id: "tx-status" }, receipt.status), ` in block ${receipt.block}`,
        receipt.events.length ? `, events ${receipt.events.join(", ")}` : ""));
    } catch (e) {
      result.className = "result bad";
      result.replaceChildren(el("p", {}, "failed: " + e.message));
    }
  });
  stopPolling();  // a form is not re-rendered under the user's hands
  view().replaceChildren(el("h2", {}, "Send a registry transaction"), form, result);
}

// A POST answered by this replica itself (not logged).
async function postJson(path, body) {
  const r = await fetch(path, { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.message || j.error || "HTTP " + r.status);
  return j;
}

async function sendWithWallet(body) {
  const call = await postJson("/api/calldata", body);
  const [from] = await window.ethereum.request({ method: "eth_requestAccounts" });
  const tx = await window.ethereum.request({ method: "eth_sendTransaction", params: [{ from, to: call.to, data: call.data }] });
  // The record of a transaction the user signed: an External_TXN entry (logged, never applied).
  await write("POST", "/api/txs", { tx, from, function: body.function, service: call.service }).catch(() => {});
  return tx;
}

async function waitReceipt(tx) {
  for (let i = 0; i < 60; i++) {
    const r = await getJson("/api/receipt/" + tx);
    if (!r.pending) return r;
    await new Promise((res) => setTimeout(res, 1000));
  }
  throw new Error("no receipt after 60 s");
}

// ---------- routing and live updates ----------
function stopPolling() {
  if (timer) clearTimeout(timer);
  timer = null;
}

async function render() {
  stopPolling();
  const hash = location.hash || "#/";
  const [path, query] = hash.slice(1).split("?");
  const params = new URLSearchParams(query || "");
  try {
    await refreshConfig();
    if (path.startsWith("/service/")) await servicePage(path.slice(9));
    else if (path === "/send") return sendPage(params);
    else await servicesPage();
  } catch (e) {
    view().replaceChildren(el("p", { class: "bad" }, "cannot load: " + e.message));
  }
  timer = setTimeout(poll, POLL_MS);
}

// A live update, unless the user is typing in a form on the page (it would be replaced).
function poll() {
  const a = document.activeElement;
  if (a && a.closest && a.closest("form")) {
    timer = setTimeout(poll, POLL_MS);
    return;
  }
  render();
}

window.addEventListener("hashchange", () => { render(); view().focus(); });
render();
