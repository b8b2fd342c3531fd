// Officers' flag queue. Plain JavaScript, no build step, nothing loaded from elsewhere.
// All data comes from /v1 with the session cookie; changing requests carry X-CSRF-Token.
// Text from the server is only ever set with textContent (never parsed as HTML).
"use strict";

const S = {
  me: null, // {name, role, csrf_token}
  flags: new Map(), // id -> FlagSummary
  selected: null, // flag id
  detail: null, // FlagDetail
  lastEventId: 0,
  source: null, // EventSource
  lanesTimer: null,
  formOpen: null, // "reject" | "dispose" | null
  bodyChoice: null, // {passage, value}: the body type picked but not sent (kept across live re-renders)
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const STATUS_LABEL = {
  new: "New", claimed: "Claimed", read_verified: "Read verified", read_rejected: "Read rejected",
  directed_to_search: "Directed to search", disposed: "Disposed",
};
const ACTION_LABEL = {
  claim: "Claim", release: "Release", verify_read: "Read is correct", reject_read: "Read is wrong…",
  direct_to_search: "Direct to search", dispose: "Record outcome…",
};
const ACTION_PATH = {
  claim: "claim", release: "release", verify_read: "verify", reject_read: "reject",
  direct_to_search: "direct", dispose: "dispose",
};
const MATCH_LABEL = { exact: "exact", lookalike: "look-alike characters", edit: "near miss (edit distance)" };
const OUTCOMES = [
  ["no_find", "Searched: no find"],
  ["entrants_found", "Clandestine entrants found"],
  ["security_breach", "Security breach, no entrants"],
  ["not_stopped", "Not stopped"],
];
// the trailer classifier's body types (vision/types.py BodyType but unknown) and their side
const BODY_TYPES = [
  ["curtainsider", "soft"], ["tilt", "soft"], ["box", "hard"], ["reefer", "hard"], ["container", "hard"],
  ["tanker", "hard"], ["flatbed", "other"], ["tipper", "other"], ["car_transporter", "other"],
  ["tractor_only", "other"], ["other", "other"],
];
const SIDE_LABEL = { soft: "soft-sided", hard: "hard-sided", other: "neither soft nor hard", unknown: "side unknown" };
const bodyName = (t) => t.replaceAll("_", " ");
const METHODS = [
  ["co2_probe", "CO2 probe"], ["heartbeat", "Heartbeat"], ["scanner", "Scanner"], ["dog", "Dog"], ["physical", "Physical"],
];

function time(ms) {
  if (!ms) return "";
  const d = new Date(ms);
  const today = new Date();
  const t = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return d.toDateString() === today.toDateString() ? t : `${d.toLocaleDateString()} ${t}`;
}

function toast(message, bad) {
  const t = $("toast");
  t.textContent = message;
  t.className = bad ? "toast bad" : "toast";
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, bad ? 7000 : 3500);
}

class HttpError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && S.me && S.me.csrf_token) headers["X-CSRF-Token"] = S.me.csrf_token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 204) return null;
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (!r.ok) {
    let detail = data && data.detail;
    if (Array.isArray(detail)) detail = detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    if (r.status === 401 && path !== "/v1/auth/login") showLogin("Your session ended: log in again.");
    throw new HttpError(r.status, detail || `${r.status} ${r.statusText}`);
  }
  return data;
}

// --- log-in --------------------------------------------------------------------------------------

function showLogin(message) {
  stopLive();
  clearInterval(S.lanesTimer);
  S.me = null;
  $("app-view").hidden = true;
  $("who").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message || "";
  $("login-name").focus();
}

async function onLogin(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  $("login-submit").disabled = true;
  try {
    S.me = await api("/v1/auth/login", {
      method: "POST", body: { name: $("login-name").value.trim(), password: $("login-password").value },
    });
    $("login-password").value = "";
    await start();
  } catch (e) {
    $("login-error").textContent = e.message;
  } finally {
    $("login-submit").disabled = false;
  }
}

async function onLogout() {
  try { await api("/v1/auth/logout", { method: "POST" }); } catch (e) { /* ended anyway */ }
  S.flags.clear();
  S.selected = null;
  showLogin("Logged out.");
}

async function start() {
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = `${S.me.name} (${S.me.role})`;
  await loadQueue();
  startLive();
  loadLanes();
  clearInterval(S.lanesTimer);
  S.lanesTimer = setInterval(loadLanes, 5000);
}

// --- queue ---------------------------------------------------------------------------------------

async function loadQueue() {
  const data = await api("/v1/flags?limit=200");
  S.flags.clear();
  for (const f of data.items) S.flags.set(f.id, f);
  // the store's own position, even if lower than the page's (a store restored from a backup):
  // events after it are replayed on the next (re)connect, and applying one twice is harmless
  S.lastEventId = data.last_event_id;
  renderQueue();
}

// a vehicle seen again adds its reasons once more: show each sentence once, with how often
function uniqueReasons(reasons) {
  const seen = new Map();
  for (const r of reasons) {
    const key = r.code === "repeat" ? "repeat" : r.text; // repeats: the latest sentence counts them all
    const have = seen.get(key);
    if (have && r.code === "repeat") seen.set(key, { ...r, n: 1 });
    else if (have) have.n += 1;
    else seen.set(key, { ...r, n: 1 });
  }
  return [...seen.values()];
}

function reasonText(r) { return `+${r.points} ${r.text}${r.n > 1 ? ` (×${r.n})` : ""}`; }

function riskClass(score) { return score >= 70 ? "high" : score >= 40 ? "mid" : ""; }

function sortedFlags() {
  return [...S.flags.values()].sort((a, b) => b.risk_score - a.risk_score || b.last_seen_ts_ms - a.last_seen_ts_ms || b.id - a.id);
}

function renderQueue(freshId) {
  const list = $("queue");
  const flags = sortedFlags();
  list.replaceChildren(...flags.map((f) => {
    const reasons = uniqueReasons(f.reasons).slice(0, 3).map((r) => el("div", { class: "reason-line", text: reasonText(r) }));
    const card = el("button", {
      type: "button", role: "listitem",
      class: `flag-card${f.id === S.selected ? " selected" : ""}${f.id === freshId ? " fresh" : ""}`,
      dataset: { flagId: f.id, status: f.status }, onclick: () => select(f.id),
      "aria-label": `Flag ${f.vehicle_mark || "unread"}, risk ${f.risk_score}, ${STATUS_LABEL[f.status]}`,
    },
    el("span", { class: `risk ${riskClass(f.risk_score)}`, text: f.risk_score }),
    el("div", { class: "card-body" },
      el("div", {}, el("span", { class: "mark", text: f.vehicle_mark || "(unread)" }), " ",
        el("span", { class: `status ${f.status}`, text: STATUS_LABEL[f.status] })),
      el("div", { class: "muted", text: `Lane ${f.lane_id} · ${time(f.last_seen_ts_ms)}${f.claimed_by ? " · " + f.claimed_by : ""}` }),
      ...reasons));
    return card;
  }));
  $("queue-empty").hidden = flags.length > 0;
  $("queue-count").textContent = flags.filter((f) => f.status === "new").length;
}

async function select(id) {
  S.selected = id;
  S.formOpen = null;
  S.bodyChoice = null;
  renderQueue();
  await loadDetail({ force: true });
}

async function loadDetail({ force = false } = {}) {
  if (S.selected === null) return;
  let fetched;
  try {
    fetched = await api(`/v1/flags/${S.selected}`);
  } catch (e) {
    toast(e.message, true);
    return;
  }
  // a reload started by a live event can answer after the officer's own action did, or after
  // another flag was chosen: never let an older version of the flag (or another flag) replace
  // what is shown (the page would go back a step and stay there)
  if (fetched.id !== S.selected) return;
  if (S.detail && S.detail.id === fetched.id && S.detail.version > fetched.version) return;
  // the version already shown (a live event that raced the officer's own action): drawing it
  // again would replace the buttons under the officer's pointer and lose a click on them
  const same = S.detail && S.detail.id === fetched.id && S.detail.version === fetched.version;
  S.detail = fetched;
  if (same && !force) return;
  renderDetail();
}

// --- detail --------------------------------------------------------------------------------------

function img(src, alt, cls) {
  if (!src) return el("p", { class: "muted", text: `No ${alt} stored.` });
  return el("img", { src, alt, class: `crop ${cls || ""}`, loading: "lazy" });
}

function renderDetail() {
  const d = S.detail;
  const box = $("detail");
  if (!d) { box.replaceChildren(el("p", { class: "empty", text: "Choose a flag from the queue." })); return; }
  const latest = d.passages[0];
  const head = el("div", { class: "detail-head" },
    el("span", { class: `risk ${riskClass(d.risk_score)}`, text: d.risk_score }),
    el("span", { class: "mark", id: "detail-mark", text: d.vehicle_mark || "(unread)" }),
    el("span", { class: `status ${d.status}`, id: "detail-status", text: STATUS_LABEL[d.status] }),
    d.claimed_by ? el("span", { text: `claimed by ${d.claimed_by}` }) : null,
    d.corrected_mark ? el("span", { class: "muted", text: `machine read ${d.read_mark || "?"}, corrected by officer` }) : null,
    el("span", { class: "muted", text: `Lane ${d.lane_id} · ${d.n_passages} passage(s) · last ${time(d.last_seen_ts_ms)}` }));

  const reasons = el("ul", { class: "reasons", id: "detail-reasons" },
    uniqueReasons(d.reasons).map((r) => el("li", {}, el("span", { class: "pts", text: `+${r.points} ` }), r.text,
      r.n > 1 ? el("span", { class: "muted", text: ` (×${r.n})` }) : null)));

  const evidence = el("div", { class: "evidence" });
  if (latest) {
    for (const p of latest.plates) {
      const cands = p.candidates.length
        ? el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "#" }), el("th", { text: "Candidate" }), el("th", { text: "Conf." }))),
          el("tbody", {}, p.candidates.map((c) => el("tr", {}, el("td", { text: c.rank }), el("td", { class: "mark", text: c.text }),
            el("td", { text: `${Math.round(c.confidence * 100)}%` })))))
        : el("p", { class: "muted", text: "No reader candidates." });
      evidence.append(el("section", { class: "panel plate-panel" },
        el("h3", { text: `${p.role.replace("_", " ")} plate${p.country ? " · " + p.country : ""}` }),
        img(p.crop_url, "plate crop", "plate-crop"),
        el("div", { class: "read", text: p.text || "(unread)" }),
        el("div", { class: "muted", text: `${p.status.replace("_", " ")}, ${Math.round(p.confidence * 100)}% · ${p.n_looks} look(s)` }),
        cands));
    }
    evidence.append(el("section", { class: "panel trailer-panel" },
      el("h3", { text: "Trailer" }),
      img(latest.body_crop_url, "trailer crop", "body-crop"),
      el("div", { class: "read", id: "detail-body", text: bodyName(latest.body_type) }),
      el("div", { class: "muted", text: `${latest.body_side}-sided · ${Math.round(latest.body_confidence * 100)}% confident` }),
      bodyFeedback(d, latest)));
  }

  const matches = d.matches.length
    ? el("section", { class: "panel", id: "detail-matches" }, el("h3", { text: "Action list" }),
      el("table", {}, el("thead", {}, el("tr", {}, ["Listed mark", "Kind", "Haulier", "Penalty", "£", "Matched read", "How"].map((h) => el("th", { text: h })))),
        el("tbody", {}, d.matches.map((m) => el("tr", { title: m.how },
          el("td", { class: "mark", text: m.mark }), el("td", { text: m.kind }), el("td", { text: m.haulier }),
          el("td", { text: m.penalty_ref }), el("td", { text: m.amount_gbp }),
          el("td", { class: "mark", text: `${m.candidate}${m.candidate_rank ? ` (cand. ${m.candidate_rank})` : ""}` }),
          el("td", { text: `${MATCH_LABEL[m.match_type] || m.match_type}${m.source === "officer_correction" ? " · officer's correction" : ""}` }))))))
    : el("p", { class: "muted", id: "detail-matches", text: "No action-list match." });

  const actions = el("div", { class: "actions", id: "actions" },
    d.allowed_actions.map((a) => el("button", {
      type: "button", class: `btn ${a === "claim" || a === "direct_to_search" ? "btn-primary" : a === "reject_read" ? "btn-danger" : ""}`,
      dataset: { action: a }, text: ACTION_LABEL[a], onclick: () => onAction(a),
    })));
  if (!d.allowed_actions.length) {
    actions.append(el("p", { class: "muted", text: d.status === "disposed"
      ? `Closed: ${(d.outcome || "").replace("_", " ")}${d.entrants_found ? ` (${d.entrants_found})` : ""}${d.detection_methods.length ? "; " + d.detection_methods.join(", ") : ""}`
      : "No action for you now." }));
  }

  const form = S.formOpen === "reject" ? rejectForm(d) : S.formOpen === "dispose" ? disposeForm(d) : null;

  const history = el("ol", { class: "history" }, d.events.map((e) => el("li", {},
    `${time(e.ts_ms)} ${e.actor}: ${e.kind.replaceAll("_", " ")}${e.to_status ? " → " + STATUS_LABEL[e.to_status] : ""}`,
    e.detail && e.detail.reason ? ` (${e.detail.reason})` : "",
    e.detail && e.detail.body_type ? ` (${e.detail.feedback === "corrected" ? bodyName(e.detail.machine_body_type) + " → " : ""}${bodyName(e.detail.body_type)})` : "",
    e.detail && e.detail.outcome ? ` (${e.detail.outcome.replace("_", " ")})` : "")));

  box.replaceChildren(head, actions, form || "", reasons, evidence, matches, el("h3", { text: "History" }), history);
}

// the officer's word on the body type: what was said, and (while working the flag) confirm / correct
function bodyFeedback(d, p) {
  const fb = p.body_feedback;
  const said = fb
    ? el("div", { class: `officer-says ${fb.kind}`, id: "body-feedback" },
      fb.kind === "confirmed" ? `Officer confirmed: ${bodyName(fb.body_type)}` : `Officer corrected to: ${bodyName(fb.body_type)}`,
      el("span", { class: "muted", text: ` (${SIDE_LABEL[fb.side] || fb.side}) · ${fb.by} ${time(fb.ts_ms)}` }))
    : el("div", { class: "muted", id: "body-feedback", text: "Body type not checked by an officer yet." });
  if (!d.body_feedback_allowed) return said;
  const known = BODY_TYPES.some(([t]) => t === p.body_type);
  const picked = S.bodyChoice && S.bodyChoice.passage === p.id ? S.bodyChoice.value : null;
  const choose = picked || (fb ? fb.body_type : BODY_TYPES.find(([t]) => t !== p.body_type)[0]);
  return el("div", {}, said,
    el("div", { class: "body-controls" },
      known ? el("button", { type: "button", class: "btn", id: "body-confirm", text: `Yes, ${bodyName(p.body_type)}`,
        onclick: () => sendBody(p, { action: "confirm" }) }) : null,
      el("label", { for: "body-select", text: known ? "No, the trailer is" : "The trailer is" }),
      el("div", { class: "body-correct" },
        el("select", { id: "body-select", onchange: (ev) => { S.bodyChoice = { passage: p.id, value: ev.target.value }; } },
          BODY_TYPES.map(([t, side]) => el("option", {
          value: t, selected: t === choose, text: `${bodyName(t)} (${side})` }))),
        el("button", { type: "button", class: "btn", id: "body-correct", text: "Correct",
          onclick: () => sendBody(p, { action: "correct", body_type: $("body-select").value }) }))));
}

async function sendBody(p, body) {
  const d = S.detail;
  try {
    S.detail = await api(`/v1/flags/${d.id}/passages/${p.id}/body-type`, { method: "POST", body: { version: d.version, ...body } });
    S.bodyChoice = null;
    S.flags.set(S.detail.id, S.detail);
    renderQueue();
    renderDetail();
    const fb = S.detail.passages.find((x) => x.id === p.id).body_feedback;
    toast(`Body type ${fb.kind}: ${bodyName(fb.body_type)}`);
  } catch (e) {
    toast(e.message, true);
    if (e.status === 409) await loadDetail();
  }
}

function rejectForm(d) {
  const f = el("form", { class: "action-form", id: "reject-form", onsubmit: (ev) => { ev.preventDefault(); submitReject(); } },
    el("h3", { text: "The read is wrong" }),
    el("label", { for: "reject-reason", text: "Why (required)" }),
    el("input", { id: "reject-reason", required: true, maxlength: 1000, placeholder: "e.g. last letter is E on the plate" }),
    el("label", { for: "reject-mark", text: "Mark as you read it on the evidence (optional)" }),
    el("input", { id: "reject-mark", maxlength: 32, autocapitalize: "characters", spellcheck: "false", value: d.vehicle_mark }),
    el("div", { class: "actions" },
      el("button", { type: "submit", class: "btn btn-danger", id: "reject-submit", text: "Reject read" }),
      el("button", { type: "button", class: "btn", text: "Cancel", onclick: () => { S.formOpen = null; renderDetail(); } })));
  return f;
}

function disposeForm(d) {
  const searched = d.status === "directed_to_search";
  const outcomes = OUTCOMES.filter(([v]) => searched || v === "not_stopped");
  const f = el("form", { class: "action-form", id: "dispose-form", onsubmit: (ev) => { ev.preventDefault(); submitDispose(); } },
    el("h3", { text: "Outcome" }),
    el("label", { for: "dispose-outcome", text: "What happened" }),
    el("select", { id: "dispose-outcome", onchange: syncDispose }, outcomes.map(([v, t]) => el("option", { value: v, text: t }))),
    el("label", { for: "dispose-entrants", id: "dispose-entrants-label", text: "Entrants found" }),
    el("input", { id: "dispose-entrants", type: "number", min: 1, max: 500, value: 1, inputmode: "numeric" }),
    el("fieldset", { class: "methods", id: "dispose-methods" }, el("legend", { text: "Detection methods used" }),
      METHODS.map(([v, t]) => el("label", {}, el("input", { type: "checkbox", name: "method", value: v }), t))),
    el("label", { for: "dispose-note", text: "Note (why not stopped; what was found)" }),
    el("textarea", { id: "dispose-note", maxlength: 2000 }),
    el("div", { class: "actions" },
      el("button", { type: "submit", class: "btn btn-primary", id: "dispose-submit", text: "Close flag" }),
      el("button", { type: "button", class: "btn", text: "Cancel", onclick: () => { S.formOpen = null; renderDetail(); } })));
  setTimeout(syncDispose, 0);
  return f;
}

function syncDispose() {
  const outcome = $("dispose-outcome") && $("dispose-outcome").value;
  if (!outcome) return;
  $("dispose-entrants").hidden = $("dispose-entrants-label").hidden = outcome !== "entrants_found";
  $("dispose-methods").hidden = outcome === "not_stopped";
}

async function transition(action, body) {
  const d = S.detail;
  try {
    S.detail = await api(`/v1/flags/${d.id}/${ACTION_PATH[action]}`, { method: "POST", body: { version: d.version, ...body } });
    S.formOpen = null;
    S.flags.set(S.detail.id, S.detail);
    if (S.detail.status === "disposed") S.flags.delete(S.detail.id);
    renderQueue();
    renderDetail();
    toast(`${ACTION_LABEL[action].replace("…", "")}: done`);
  } catch (e) {
    toast(e.message, true);
    if (e.status === 409) await loadDetail();
  }
}

function onAction(action) {
  if (action === "reject_read" || action === "dispose") {
    S.formOpen = action === "reject_read" ? "reject" : "dispose";
    renderDetail();
    const first = $(action === "reject_read" ? "reject-reason" : "dispose-outcome");
    if (first) first.focus();
    return;
  }
  transition(action, {});
}

function submitReject() {
  const corrected = $("reject-mark").value.trim();
  transition("reject_read", { reason: $("reject-reason").value, corrected_mark: corrected || null });
}

function submitDispose() {
  const outcome = $("dispose-outcome").value;
  const methods = [...document.querySelectorAll('#dispose-methods input[name="method"]:checked')].map((i) => i.value);
  transition("dispose", {
    outcome,
    entrants_found: outcome === "entrants_found" ? Number($("dispose-entrants").value || 0) : 0,
    detection_methods: outcome === "not_stopped" ? [] : methods,
    note: $("dispose-note").value,
  });
}

// --- live queue (SSE) ----------------------------------------------------------------------------

function setLive(on) {
  const s = $("live-state");
  s.textContent = on ? "live" : "reconnecting";
  s.className = `live-state ${on ? "on" : "off"}`;
}

function startLive() {
  stopLive();
  const es = new EventSource(`/v1/flags/stream?after=${S.lastEventId}`);
  S.source = es;
  es.addEventListener("hello", () => setLive(true));
  es.addEventListener("open", () => setLive(true));
  es.addEventListener("error", () => {
    setLive(false);
    // a closed stream (e.g. the session ended) is not retried by the browser: check and restart
    if (es.readyState === EventSource.CLOSED) {
      setTimeout(async () => {
        try { await api("/v1/auth/me"); startLive(); } catch (e) { /* showLogin already ran on 401 */ }
      }, 3000);
    }
  });
  es.addEventListener("reset", (ev) => {
    S.lastEventId = JSON.parse(ev.data).last_event_id;
    loadQueue();
  });
  // the server ends the stream when the log-in behind it ends (logged out, expired, revoked)
  es.addEventListener("ended", (ev) => {
    es.close();
    S.source = null;
    showLogin(`Your session ended: log in again. (${JSON.parse(ev.data).reason})`);
  });
  es.addEventListener("flag", (ev) => {
    const msg = JSON.parse(ev.data);
    S.lastEventId = Math.max(S.lastEventId, msg.event_id);
    const f = msg.flag;
    const isNew = !S.flags.has(f.id);
    if (f.status === "disposed") S.flags.delete(f.id); else S.flags.set(f.id, f);
    renderQueue(isNew ? f.id : null);
    if (S.selected === f.id && !S.formOpen && (!S.detail || S.detail.version !== f.version || msg.kind === "passage_added")) loadDetail({ force: msg.kind === "passage_added" });
  });
}

function stopLive() {
  // the stream only: lane health goes on polling while the stream reconnects (it is also what
  // notices an ended session between streams)
  if (S.source) { S.source.close(); S.source = null; }
}

// --- lanes ---------------------------------------------------------------------------------------

async function loadLanes() {
  let lanes;
  try { lanes = await api("/v1/lanes"); } catch (e) { return; }
  const strip = $("lanes");
  if (!lanes.length) { strip.replaceChildren(el("span", { class: "muted", text: "No lane has reported yet." })); return; }
  strip.replaceChildren(...lanes.map((l) => el("div", {
    class: `lane ${l.status}`, dataset: { lane: l.lane_id },
    title: `${l.frames_received} frames received, ${l.frames_dropped} dropped; ${l.passages} passages`,
  },
  el("span", { text: l.name || l.lane_id }),
  el("span", { class: "state", text: l.status.toUpperCase() }),
  l.fps !== null ? el("span", { class: "msg", text: `${l.fps.toFixed(1)} fps` }) : null,
  l.message ? el("span", { class: "msg", text: l.message }) : null,
  // supervisors and admins: what the camera sees now, with its region of interest (a new tab)
  S.me && (S.me.role === "supervisor" || S.me.role === "admin")
    ? el("a", { class: "msg", href: `/v1/lanes/${encodeURIComponent(l.lane_id)}/snapshot`, target: "_blank", rel: "noopener", text: "view" })
    : null)));
}

// --- passage search ------------------------------------------------------------------------------

function showTab(which) {
  $("tab-queue").setAttribute("aria-selected", String(which === "queue"));
  $("tab-search").setAttribute("aria-selected", String(which === "search"));
  $("queue-view").hidden = which !== "queue";
  $("search-view").hidden = which !== "search";
}

async function onSearch(ev) {
  ev.preventDefault();
  const q = new URLSearchParams();
  const mark = $("search-mark").value.trim();
  const lane = $("search-lane").value.trim();
  if (mark) q.set("mark", mark);
  if (lane) q.set("lane", lane);
  if ($("search-from").value) q.set("from_ts_ms", String(new Date($("search-from").value).getTime()));
  if ($("search-to").value) q.set("to_ts_ms", String(new Date($("search-to").value).getTime()));
  $("search-status").textContent = "Searching…";
  let rows;
  try { rows = await api(`/v1/passages?${q}`); } catch (e) { $("search-status").textContent = e.message; return; }
  $("search-status").textContent = `${rows.length} passage(s)`;
  $("search-results").replaceChildren(el("table", { id: "search-table" },
    el("thead", {}, el("tr", {}, ["Time", "Lane", "Plates", "Trailer", "Flag"].map((h) => el("th", { text: h })))),
    el("tbody", {}, rows.map((p) => el("tr", {},
      el("td", { text: time(p.last_seen_ts_ms) }), el("td", { text: p.lane_id }),
      el("td", { class: "mark", text: p.plates.map((x) => x.text || "?").join(" / ") || "none" }),
      el("td", { text: `${p.body_type.replace("_", " ")} (${p.body_side})` }),
      el("td", {}, p.flag_id ? el("button", { type: "button", class: "link-btn", text: `Flag ${p.flag_id}`,
        onclick: () => { showTab("queue"); select(p.flag_id); } }) : "—"))))));
}

// --- start ---------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  $("login-form").addEventListener("submit", onLogin);
  $("logout").addEventListener("click", onLogout);
  $("tab-queue").addEventListener("click", () => showTab("queue"));
  $("tab-search").addEventListener("click", () => showTab("search"));
  $("search-form").addEventListener("submit", onSearch);
  // Escape closes an open reject or dispose form, as its Cancel button does
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && S.formOpen) { S.formOpen = null; renderDetail(); }
  });
  try {
    const me = await api("/v1/auth/me");
    if (me.via !== "session") throw new Error("no session");
    S.me = me;
    await start();
  } catch (e) {
    showLogin("");
  }
});
