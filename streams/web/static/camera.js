// citywatch camera page: the live picture with zones and boxes, the zones, the camera's open and
// recently closed incidents (detail inline, and a link to the board), its speaker and, for
// operators, a broadcast on that speaker.
"use strict";

(() => {
  const { el, api } = cw;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 3000;
  const CLOSED_SHOWN = 10;
  const cameraId = decodeURIComponent(location.pathname.split("/")[2] || "");
  let categories = {};
  let me = null;
  let shownSpeaker;

  function facts(cam) {
    const n = cam.open_incidents || 0;
    return [camview.badge(cam), " ", el("span", { class: "count" + (n ? " some" : "") }, `${n} open`), " ",
      el("span", { class: "muted" }, `${cam.id} · ${cam.address}` + (cam.shop ? ` · ${cam.shop}` : "") + ` · grid ${cam.grid} · ${camview.fps(cam)}` +
        (cam.snapshot_at ? ` · picture ${cw.time(cam.snapshot_at)} (${cw.ago(cam.snapshot_at)})` : ""))];
  }

  function zonesTable(cam) {
    const head = el("tr", {}, ["Zone", "Name", "Categories", "Active hours"].map((h) => el("th", {}, h)));
    const rows = cam.zones.map((z) => el("tr", { dataset: { zone: z.id } },
      el("td", {}, z.id), el("td", {}, z.name || ""),
      el("td", {}, z.categories.map((k) => categories[k] ? `${categories[k]} (${k})` : k).join(", ")),
      el("td", {}, z.active_hours || "all day")));
    return rows.length ? [head, ...rows] : [el("tr", {}, el("td", { class: "empty" }, "No zones on this camera."))];
  }

  function showCamera(cam) {
    document.title = `citywatch · ${cam.name || cam.id}`;
    $("cam-title").textContent = `${cam.name || cam.id}`;
    $("cam-facts").replaceChildren(...facts(cam));
    const box = $("cam-pic");
    box.dataset.camera = cam.id;
    camview.render(box, cam);
    $("zones").replaceChildren(...zonesTable(cam));
    if (shownSpeaker !== cam.speaker) { shownSpeaker = cam.speaker; showSpeaker(cam); }
  }

  function incidentItem(inc) {
    const cat = inc.category || {};
    return el("li", { dataset: { incidentId: inc.incident_id, state: inc.state } },
      cw.badge(inc.state),
      el("a", { href: "#", onclick: (ev) => { ev.preventDefault(); detail(inc.incident_id); } }, `${cat.name || cat.key || ""} · ${inc.zone_id || ""}`),
      el("span", { class: "muted" }, cw.ago(inc.updated_at)),
      el("a", { href: `/?incident=${encodeURIComponent(inc.incident_id)}`, class: "to-board" }, "on the board"));
  }

  async function loadIncidents() {
    const data = await api(`/api/incidents?camera=${encodeURIComponent(cameraId)}&limit=500`);
    const open = data.incidents.filter((i) => !cw.inStates("final_states", i.state));
    const closed = data.incidents.filter((i) => cw.inStates("final_states", i.state)).slice(0, CLOSED_SHOWN);
    $("open-incidents").replaceChildren(...(open.length ? open.map(incidentItem) : [el("li", { class: "muted" }, "No open incidents.")]));
    $("closed-incidents").replaceChildren(...(closed.length ? closed.map(incidentItem) : [el("li", { class: "muted" }, "None closed lately.")]));
  }

  async function detail(incidentId) {
    const box = $("inc-detail");
    box.replaceChildren(el("div", { class: "muted" }, "loading…"));
    try {
      const inc = await api(`/api/incidents/${encodeURIComponent(incidentId)}`);
      const cat = inc.category || {};
      box.replaceChildren(
        el("h2", {}, "Incident ", el("span", { class: "muted" }, inc.incident_id)),
        el("div", { class: "row" }, el("b", {}, `${cat.name || cat.key} (${cat.code || "-"})`), " ", cw.badge(inc.state), " ",
          el("a", { href: `/?incident=${encodeURIComponent(inc.incident_id)}` }, "open on the board")),
        cw.evidence(inc.evidence_items),
        cw.timeline(inc.history));
    } catch (e) { box.replaceChildren(el("div", { class: "result error" }, e.message)); }
  }

  function showSpeaker(cam) {
    const form = $("bc-form");
    if (!cam.speaker) {
      $("speaker").replaceChildren(el("div", { class: "muted" }, "This camera has no speaker."));
      if (form) form.hidden = true;
      return;
    }
    $("speaker").replaceChildren(el("div", {}, el("b", { id: "speaker-id" }, cam.speaker),
      !form && el("div", { class: "muted" }, "Broadcasts need an operator token.")));
    if (form) form.hidden = false;
  }

  async function sendBroadcast(ev) {
    ev.preventDefault();
    const out = $("bc-result");
    out.className = "result"; delete out.dataset.decision; out.textContent = "sending…";
    try {
      const res = await api("/api/broadcasts", { method: "POST", body: { camera_id: cameraId, text: $("bc-text").value, reason: $("bc-reason").value } });
      out.textContent = `waiting for the policy's decision on ${res.speaker_id}…`;
      for (let i = 0; i < 20 && !out.dataset.decision; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const d = await api(`/api/broadcasts/${encodeURIComponent(res.request_id)}`).catch(() => ({}));
        if (d.decision) {
          out.className = `result ${d.decision}`;
          out.dataset.decision = d.decision;
          out.textContent = `${d.decision.toUpperCase()} on ${d.speaker_id}` + (d.reason ? `: ${d.reason}` : "");
        }
      }
    } catch (e) { out.className = "result error"; out.textContent = e.message; }
  }

  async function refresh() {
    showCamera(await api(`/api/cameras/${encodeURIComponent(cameraId)}`));
    await loadIncidents();
  }

  async function start() {
    me = await cw.whoami();
    const options = await api("/api/options");
    cw.setOptions(options);
    categories = Object.fromEntries((options.categories || []).map((c) => [c.key, c.name]));
    $("site").textContent = options.site;
    $("user").textContent = `${me.name} (${me.role})`;
    $("logout").addEventListener("click", cw.logout);
    $("edit-zones").setAttribute("href", `/cameras/${encodeURIComponent(cameraId)}/zones`);
    if (me.can_operate) $("bc-form").addEventListener("submit", sendBroadcast);
    else $("bc-form").remove();
    await refresh();
    setInterval(() => refresh().catch((e) => console.error(e)), REFRESH_MS);
  }

  start().catch((e) => { document.body.prepend(el("div", { class: "result error" }, `Cannot load the camera: ${e.message}`)); });
})();
