// citywatch incident board: live list, filters, counts, detail with evidence and timeline,
// operator actions and the aerial broadcast form.
"use strict";

(() => {
  const { el, api } = cw;
  const $ = (id) => document.getElementById(id);
  const incidents = new Map();
  const decisions = new Map();
  let options = null;
  // ?incident=ID (links from the camera pages): that incident is shown, closed ones too
  let selected = new URLSearchParams(location.search).get("incident");
  let waitingFor = null; // request_id of the broadcast this page sent last
  const fresh = new Set();

  const filters = () => ({
    state: $("f-state").value, category: $("f-category").value, grid: $("f-grid").value,
    camera: $("f-camera").value, open: $("f-open").checked,
  });

  function matches(inc, f) {
    if (f.state && inc.state !== f.state) return false;
    if (f.category && (inc.category || {}).key !== f.category) return false;
    if (f.grid && (inc.location || {}).grid_id !== f.grid) return false;
    if (f.camera && inc.camera_id !== f.camera) return false;
    return !(f.open && cw.inStates("final_states", inc.state));
  }

  function fillSelect(select, items) {
    for (const [value, label] of items) select.append(el("option", { value }, label));
  }

  function renderCounts() {
    const f = filters();
    const byState = {}, byCat = {};
    for (const inc of incidents.values()) {
      if (!matches(inc, { ...f, state: "", open: false })) continue;
      byState[inc.state] = (byState[inc.state] || 0) + 1;
      const key = (inc.category || {}).key;
      byCat[key] = (byCat[key] || 0) + 1;
    }
    const names = Object.fromEntries((options.categories || []).map((c) => [c.key, c.name]));
    const box = $("counts");
    box.replaceChildren(
      ...Object.entries(byState).sort().map(([s, n]) => el("span", {
        class: "chip" + (f.state === s ? " active" : ""), dataset: { state: s },
        onclick: () => { $("f-state").value = f.state === s ? "" : s; if (cw.inStates("final_states", s)) $("f-open").checked = false; render(); },
      }, cw.badge(s), el("b", {}, n))),
      ...Object.entries(byCat).sort().map(([k, n]) => el("span", { class: "chip", dataset: { category: k } }, names[k] || k, el("b", {}, n))),
    );
  }

  function card(inc) {
    const cat = inc.category || {};
    const node = el("div", {
      class: `card st-${inc.state}` + (inc.incident_id === selected ? " selected" : "") + (fresh.has(inc.incident_id) ? " flash" : ""),
      dataset: { incidentId: inc.incident_id, state: inc.state, camera: inc.camera_id || "" },
      onclick: () => { selected = inc.incident_id; render(); if (window.innerWidth < 1100) $("detail").scrollIntoView({ behavior: "smooth" }); },
    },
      el("div", { class: "row" }, el("span", { class: "title" }, `${cat.name || cat.key} ${cat.code || ""}`),
        el("span", {}, needsReview(inc) && reviewBadge(), " ", cw.badge(inc.state))),
      el("div", {}, cw.place(inc)),
      el("div", { class: "meta" }, `${inc.camera_id || ""} · ${(inc.location || {}).grid_id || "no grid"} · opened ${cw.ago(inc.opened_at)}`
        + (inc.unit_id ? ` · ${inc.unit_id}` : "") + (hasLeft(inc) ? ` · ${leftText(inc, true)}` : "")
        + (inc.held ? " · camera offline (held)" : "")));
    return node;
  }

  // an incident the camera saw too little of for a warning waits for an operator's confirmation
  const needsReview = (inc) => Boolean(inc.review) && cw.inStates("open_states", inc.state);
  const reviewBadge = () => el("span", { class: "badge review", title: "too few sightings for an automatic warning: an operator confirms" }, "needs review");

  function seenText(inc) {
    const scores = inc.scores || {};
    const labels = [...new Set([...(inc.labels || []), ...Object.keys(scores)])];
    return labels.map((l) => (l in scores ? `${l} ${Number(scores[l]).toFixed(2)}` : l)).join(", ") || "-";
  }

  function framesText(inc) {
    if (inc.frames_seen === null || inc.frames_seen === undefined) return "not counted by the camera";
    const cat = (options.categories || []).find((c) => c.key === (inc.category || {}).key);
    const need = cat && cat.warn_min_frames ? ` (a warning needs ${cat.warn_min_frames})` : "";
    return `${inc.frames_seen} of ${inc.frames ?? "?"} sampled${need}`;
  }

  function warningText(inc) {
    const w = inc.warning || {};
    // the timeline's note without what the status already says
    const note = (w.why || "").replace(/^no warning: (needs review: )?/, "");
    const why = note ? `: ${note}` : "";
    if (w.status === "sent") return `sent (${w.count})${why}`;
    if (w.status === "review") return `not sent, needs review${why}`;
    if (w.status === "requested") return `requested, waiting for the broadcast policy${why}`;
    if (w.status === "queued") return `queued, waiting for the speaker${why}`;
    if (w.status === "not_sent") return `not sent${why}`;
    return "no decision yet";
  }

  // working time left of an open case (working_left_s of the API view, on its category's SLA clock)
  const hasLeft = (inc) => inc.working_left_s !== null && inc.working_left_s !== undefined;
  function duration(seconds) {
    const s = Math.round(Math.abs(seconds));
    if (s < 90) return `${s} s`;
    const m = Math.round(s / 60);
    return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
  }
  function leftText(inc, short = false) {
    const what = inc.sla_clock === "working" ? "working time" : "time";
    const left = inc.working_left_s;
    const text = left >= 0 ? `${duration(left)} of ${what} left` : `overdue by ${duration(left)} of ${what}`;
    return short || !inc.seen_at ? text : `${text} (at ${cw.time(inc.seen_at)})`;
  }

  function renderList() {
    const f = filters();
    const shown = [...incidents.values()].filter((i) => matches(i, f))
      .sort((a, b) => (b.updated_at || "").localeCompare(a.updated_at || ""));
    $("shown").textContent = `(${shown.length})`;
    $("incidents").replaceChildren(...(shown.length ? shown.map(card) : [el("div", { class: "empty" }, "No incidents match.")]));
    fresh.clear();
  }

  function actionBar(inc) {
    if (!cw.me.can_operate) return el("div", { class: "muted" }, "Viewer: read only.");
    const reason = el("input", { type: "text", id: "act-reason", placeholder: "reason (needed to close)", maxlength: 500 });
    const out = el("div", { class: "result", id: "act-result" });
    const act = async (action) => {
      out.className = "result"; out.textContent = `${action}…`;
      try {
        await api(`/api/incidents/${encodeURIComponent(inc.incident_id)}/actions`, { method: "POST", body: { action, reason: reason.value } });
        out.textContent = `${action}: sent to the incident, waiting for its update…`;
      } catch (e) { out.className = "result error"; out.textContent = e.message; }
    };
    const closed = cw.inStates("final_states", inc.state);
    return el("div", {},
      backgroundBar(inc),
      el("div", { class: "actions" },
        needsReview(inc) && el("button", { class: "btn ok", type: "button", dataset: { action: "confirm" }, title: "the violation is real: send the warning", onclick: () => act("confirm") }, "Confirm and warn"),
        el("button", { class: "btn", type: "button", dataset: { action: "acknowledge" }, disabled: closed, onclick: () => act("acknowledge") }, "Acknowledge"),
        el("button", { class: "btn primary", type: "button", dataset: { action: "dispatch" }, disabled: !cw.inStates("open_states", inc.state), onclick: () => act("dispatch") }, "Dispatch now"),
        reason,
        el("button", { class: "btn danger", type: "button", dataset: { action: "close" }, disabled: closed, onclick: () => act("close") }, "Close")),
      out);
  }

  // The zone of an incident keeps a static-object reference background (piled materials,
  // exposed garbage): an operator who sees it clean has the detector take it again.
  function backgroundBar(inc) {
    const cam = inc.camera_id && options.cameras.find((c) => c.id === inc.camera_id);
    if (!cam || !inc.zone_id || !(cam.background_zones || []).includes(inc.zone_id)) return null;
    const out = el("div", { class: "result", id: "bg-result" });
    const recapture = async () => {
      const question = `Zone ${inc.zone_id} of camera ${inc.camera_id} is clean now?\n\n` +
        "The detector takes this zone's reference background again from its next frames; " +
        "anything still lying there then counts as background.";
      if (!window.confirm(question)) return;
      out.className = "result"; out.textContent = "sending…";
      try {
        const reason = (document.getElementById("act-reason") || {}).value || "";
        const path = `/api/cameras/${encodeURIComponent(inc.camera_id)}/zones/${encodeURIComponent(inc.zone_id)}/background`;
        const res = await api(path, { method: "POST", body: { reason } });
        out.className = "result sent";
        out.textContent = `sent to the detector of ${res.camera_id} (${res.command_id}): zone ${res.zone_id}'s background is re-captured from its next frames`;
      } catch (e) { out.className = "result error"; out.textContent = e.message; }
    };
    return el("div", { class: "actions" },
      el("button", { class: "btn", type: "button", id: "bg-recapture", title: "the zone is clean: take its reference background again", onclick: recapture }, "Zone clean now: re-capture background"),
      out);
  }

  async function renderDetail() {
    const box = $("detail");
    const inc = selected && incidents.get(selected);
    if (!inc) { box.replaceChildren(el("h2", {}, "Incident"), el("div", { class: "empty" }, "Pick an incident to see its evidence and timeline.")); return; }
    const cat = inc.category || {};
    const loc = inc.location || {};
    const keepReason = document.getElementById("act-reason");
    const reasonText = keepReason ? keepReason.value : "";
    const keepResult = document.getElementById("act-result");
    const keepBackground = document.getElementById("bg-result");
    box.replaceChildren(
      el("h2", {}, "Incident ", el("span", { class: "muted" }, inc.incident_id)),
      el("div", { class: "row" }, el("b", {}, `${cat.name || cat.key} (${cat.code || "-"})`), " ", cw.badge(inc.state), " ", needsReview(inc) && reviewBadge()),
      el("dl", { class: "facts" },
        el("dt", {}, "Where"), el("dd", {}, cw.place(inc)),
        el("dt", {}, "Camera / zone"), el("dd", {}, `${inc.camera_id || "-"} / ${inc.zone_id || "-"}`),
        el("dt", {}, "Grid"), el("dd", {}, loc.grid_id || "-"),
        el("dt", {}, "Opened"), el("dd", {}, `${cw.time(inc.opened_at)} (${cw.ago(inc.opened_at)})`),
        el("dt", {}, "Seen"), el("dd", { id: "why-seen" }, seenText(inc)),
        el("dt", {}, "Frames seen"), el("dd", { id: "why-frames" }, framesText(inc)),
        el("dt", {}, "Warning"), el("dd", { id: "why-warning", dataset: { status: (inc.warning || {}).status || "none" } }, warningText(inc)),
        inc.case_id && el("dt", {}, "Case"), inc.case_id && el("dd", {}, `${inc.case_id} → ${inc.unit_id} (${inc.level || ""})` + (inc.rework ? `, rework ${inc.rework}` : "")),
        inc.due_at && el("dt", {}, "Due"), inc.due_at && el("dd", {}, `${cw.time(inc.due_at)} (${cw.ago(inc.due_at)})`),
        hasLeft(inc) && el("dt", {}, "Time left"), hasLeft(inc) && el("dd", { id: "sla-left", dataset: { clock: inc.sla_clock || "wall", left: inc.working_left_s } }, leftText(inc)),
        inc.held && el("dt", {}, "Camera"), inc.held && el("dd", {}, "offline: incident held")),
      el("h2", {}, "Evidence"),
      cw.evidence(inc.evidence_items),
      el("h2", {}, "Actions"),
      actionBar(inc),
      el("h2", { style: "margin-top:.8rem" }, "Timeline"),
      cw.timeline(inc.history));
    const reason = document.getElementById("act-reason");
    if (reason) reason.value = reasonText;
    if (keepResult && keepResult.textContent) document.getElementById("act-result").replaceWith(keepResult);
    const bgResult = document.getElementById("bg-result");
    if (keepBackground && keepBackground.textContent && bgResult) bgResult.replaceWith(keepBackground);
  }

  function render() { renderCounts(); renderList(); renderDetail(); }

  function upsert(inc) {
    const old = incidents.get(inc.incident_id);
    if (!cw.newer(inc, old)) return;
    if (!old) fresh.add(inc.incident_id);
    inc.seen_at = new Date().toISOString(); // working_left_s was counted about then
    incidents.set(inc.incident_id, inc);
  }

  async function reload() {
    const data = await api("/api/incidents?limit=1000");
    incidents.clear();
    const seen = new Date().toISOString();
    for (const inc of data.incidents) incidents.set(inc.incident_id, { ...inc, seen_at: seen });
    const picked = selected && incidents.get(selected);
    if (picked && cw.inStates("final_states", picked.state)) $("f-open").checked = false;
    render();
    const recent = await api("/api/broadcasts?limit=30");
    decisions.clear();
    for (const d of recent.decisions.reverse()) decisions.set(d.request_id, d);
    renderDecisions();
  }

  // ---------------------------------------------------------------- broadcasts

  function showDecision(d) {
    const out = $("bc-result");
    out.className = `result ${d.decision}`;
    out.dataset.decision = d.decision;
    out.textContent = `${d.decision.toUpperCase()} on ${d.speaker_id}` + (d.reason ? `: ${d.reason}` : "");
  }

  function renderDecisions() {
    const items = [...decisions.values()].reverse().slice(0, 30);
    $("decisions").replaceChildren(...items.map((d) => el("li", {},
      el("span", { class: `badge s-${d.decision === "sent" ? "closed" : d.decision === "queued" ? "warned" : "open"}` }, d.decision),
      " ", el("b", {}, d.speaker_id), " ", d.source === "operator" ? `by ${d.requested_by}` : d.requested_by && d.requested_by !== "citywatch" ? `auto, confirmed by ${d.requested_by}` : "auto",
      d.reason ? ` · ${d.reason}` : "", el("div", { class: "muted" }, cw.time(d.at)))));
  }

  function onDecision(d) {
    decisions.delete(d.request_id);
    decisions.set(d.request_id, d);
    renderDecisions();
    if (d.request_id === waitingFor) showDecision(d);
  }

  async function sendBroadcast(ev) {
    ev.preventDefault();
    const [kind, id] = $("bc-target").value.split(":");
    const body = { reason: $("bc-reason").value, force: $("bc-force").checked };
    body[kind === "camera" ? "camera_id" : "speaker_id"] = id;
    if ($("bc-template").value) body.template = $("bc-template").value; else body.text = $("bc-text").value;
    const out = $("bc-result");
    out.className = "result"; delete out.dataset.decision; out.textContent = "sending…";
    try {
      const res = await api("/api/broadcasts", { method: "POST", body });
      waitingFor = res.request_id;
      out.textContent = `waiting for the policy's decision on ${res.speaker_id}…`;
      const known = decisions.get(res.request_id);
      if (known) showDecision(known);
      setTimeout(async () => { // the live stream may have dropped: ask once
        if (waitingFor !== res.request_id || out.dataset.decision) return;
        try { const d = await api(`/api/broadcasts/${res.request_id}`); if (d.decision) showDecision(d); } catch (e) { /* still pending */ }
      }, 4000);
    } catch (e) { out.className = "result error"; out.textContent = e.message; }
  }

  // ---------------------------------------------------------------- start

  async function start() {
    const me = await cw.whoami();
    options = await api("/api/options");
    cw.setOptions(options);
    $("site").textContent = options.site;
    $("user").textContent = `${me.name} (${me.role})`;
    $("logout").addEventListener("click", cw.logout);
    fillSelect($("f-state"), options.lifecycle.states.map((s) => [s, s]));
    fillSelect($("f-category"), options.categories.map((c) => [c.key, `${c.name} ${c.code}`]));
    fillSelect($("f-grid"), options.grids.map((g) => [g.id, g.name || g.id]));
    fillSelect($("f-camera"), options.cameras.map((c) => [c.id, c.name || c.id]));
    for (const id of ["f-state", "f-category", "f-grid", "f-camera", "f-open"]) $(id).addEventListener("change", render);
    if (me.can_operate) {
      const target = $("bc-target");
      target.append(el("optgroup", { label: "Speakers" }, options.speakers.map((s) => el("option", { value: `speaker:${s.id}` }, `${s.name || s.id} (${s.cameras.join(", ") || "no camera"})`))));
      target.append(el("optgroup", { label: "Cameras" }, options.cameras.filter((c) => c.speaker).map((c) => el("option", { value: `camera:${c.id}` }, `${c.name || c.id} · ${c.address}`))));
      fillSelect($("bc-template"), [["", "free text below"], ...options.categories.map((c) => [c.key, `template: ${c.name}`])]);
      $("bc-form").addEventListener("submit", sendBroadcast);
    } else {
      $("bc-form").replaceWith(el("div", { class: "muted" }, "Broadcasts need an operator token."));
    }
    cw.live({
      alert: (inc) => { upsert(inc); render(); },
      decision: onDecision,
    }, () => reload().catch((e) => console.error(e)), $("live"));
    setInterval(renderList, 30000); // keep "x min ago" honest
    // /#incident=<id> (the map's popups link here): that incident's detail
    const fromHash = () => {
      const m = /^#incident=(.+)$/.exec(location.hash);
      if (!m) return;
      selected = decodeURIComponent(m[1]);
      render();
    };
    window.addEventListener("hashchange", fromHash);
    fromHash();
  }

  start().catch((e) => { document.body.prepend(el("div", { class: "result error" }, `Cannot load the board: ${e.message}`)); });
})();
