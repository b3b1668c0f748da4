// citywatch patrol view: one unit's open cases, with accept / arrived / resolved (note and photo).
"use strict";

(() => {
  const { el, api } = cw;
  const $ = (id) => document.getElementById(id);
  const unit = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
  const cases = new Map(); // incident_id -> incident view
  const drafts = new Map(); // case_id -> {note, status text} kept across re-renders

  function readPhoto(input) {
    const file = input.files && input.files[0];
    if (!file) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(new Error("cannot read the photo"));
      reader.readAsDataURL(file);
    });
  }

  const dueText = (due) => (due ? `${cw.time(due)} (${cw.ago(due)})` : "-");

  function tickDue() { // refresh due times without rebuilding the cards (keeps a chosen photo)
    for (const node of document.querySelectorAll("[data-due]")) {
      if (!node.dataset.due) continue;
      node.textContent = dueText(node.dataset.due);
      node.classList.toggle("overdue", new Date(node.dataset.due) < new Date());
    }
  }

  function caseCard(inc) {
    const cat = inc.category || {};
    const draft = drafts.get(inc.case_id) || {};
    const note = el("textarea", { placeholder: "note (what you found, what was done)", maxlength: 1000, class: "note" });
    note.value = draft.note || "";
    note.addEventListener("input", () => drafts.set(inc.case_id, { ...draft, note: note.value }));
    const photo = el("input", { type: "file", accept: "image/jpeg,image/png", capture: "environment", class: "photo" });
    const out = el("div", { class: "result" }, draft.result || "");
    const send = async (status) => {
      out.className = "result"; out.textContent = `${status}…`;
      try {
        const body = { status, note: note.value };
        const pic = status === "resolved" ? await readPhoto(photo) : null;
        if (pic) body.photo = pic;
        await api(`/api/cases/${encodeURIComponent(inc.case_id)}/updates`, { method: "POST", body });
        const text = `${status}: sent, waiting for the centre…`;
        drafts.set(inc.case_id, { note: "", result: text });
        note.value = ""; out.textContent = text;
      } catch (e) { out.className = "result error"; out.textContent = e.message; }
    };
    const overdue = inc.due_at && new Date(inc.due_at) < new Date();
    return el("section", { class: "panel case", dataset: { caseId: inc.case_id, state: inc.state } },
      el("div", { class: "row" }, el("b", {}, `${cat.name || cat.key} ${cat.code || ""}`), " ", cw.badge(inc.state)),
      el("dl", { class: "facts" },
        el("dt", {}, "Where"), el("dd", {}, cw.place(inc)),
        el("dt", {}, "Grid / camera"), el("dd", {}, `${(inc.location || {}).grid_id || "-"} / ${inc.camera_id || "-"}`),
        (inc.location || {}).lat != null && el("dt", {}, "Map"),
        (inc.location || {}).lat != null && el("dd", {}, `${inc.location.lat}, ${inc.location.lon}`),
        el("dt", {}, "Due"), el("dd", { class: "due" + (overdue ? " overdue" : ""), dataset: { due: inc.due_at || "" } }, dueText(inc.due_at)),
        el("dt", {}, "Case"), el("dd", {}, `${inc.case_id}` + (inc.rework ? ` · rework ${inc.rework}` : ""))),
      cw.evidence(inc.evidence_items),
      el("div", { class: "form" }, note, el("label", {}, "Photo when resolved ", photo)),
      el("div", { class: "buttons" },
        el("button", { class: "btn", type: "button", dataset: { status: "accepted" }, disabled: !cw.canUpdate("accepted", inc.state), onclick: () => send("accepted") }, "Accept"),
        el("button", { class: "btn primary", type: "button", dataset: { status: "arrived" }, disabled: !cw.canUpdate("arrived", inc.state), onclick: () => send("arrived") }, "Arrived"),
        el("button", { class: "btn ok", type: "button", dataset: { status: "resolved" }, disabled: !cw.canUpdate("resolved", inc.state), onclick: () => send("resolved") }, "Resolved")),
      out,
      el("details", {}, el("summary", { class: "muted" }, "Timeline"), cw.timeline(inc.history)));
  }

  function render() {
    const items = [...cases.values()].sort((a, b) => (a.due_at || "9").localeCompare(b.due_at || "9"));
    $("summary").textContent = items.length ? `${items.length} open case(s) for ${unit}` : "";
    $("cases").replaceChildren(...(items.length ? items.map(caseCard) : [el("div", { class: "empty" }, `No open cases for ${unit}.`)]));
  }

  function onAlert(inc) {
    const mine = inc.unit_id === unit && inc.case_id && cw.inStates("assigned_states", inc.state);
    const old = cases.get(inc.incident_id);
    if (old && !cw.newer(inc, old)) return;
    if (mine) cases.set(inc.incident_id, inc); else cases.delete(inc.incident_id);
    if (old && old.state !== inc.state) drafts.delete(inc.case_id);
    const shown = old && document.querySelector(`[data-case-id="${CSS.escape(old.case_id)}"]`);
    if (shown && mine && old.case_id === inc.case_id) shown.replaceWith(caseCard(inc)); // only this card changes
    else render();
  }

  async function reload() {
    const data = await api(`/api/units/${encodeURIComponent(unit)}/cases`);
    cases.clear();
    for (const inc of data.cases) cases.set(inc.incident_id, inc);
    render();
  }

  async function start() {
    const me = await cw.whoami();
    const options = await api("/api/options");
    cw.setOptions(options);
    const u = (options.units || []).find((x) => x.id === unit);
    $("unit").textContent = u ? `${u.name || u.id} (${u.level})` : unit;
    $("user").textContent = `${me.name} (${me.role})`;
    $("logout").addEventListener("click", cw.logout);
    cw.live({ alert: onAlert }, () => reload().catch((e) => console.error(e)), $("live"));
    setInterval(tickDue, 15000);
  }

  start().catch((e) => { document.body.prepend(el("div", { class: "result error" }, `Cannot load the cases: ${e.message}`)); });
})();
