// citywatch board: the incident history from the case record. A search (time range in the
// browser's time, text) pages through /api/incidents?from=&to=&q=&page=; picking an incident shows
// it whole from /api/incidents/{id}: every event, every case with its updates, its evidence.
"use strict";

(() => {
  const { el, api } = cw;
  const $ = (id) => document.getElementById(id);
  const PER_PAGE = 20;
  let page = 1;

  // a datetime-local value (the browser's time) as the API's UTC time, e.g. 2026-05-26T02:14:00.000Z
  const utc = (value) => (value ? new Date(value).toISOString() : "");

  function query(p) {
    const q = new URLSearchParams({ page: String(p), per_page: String(PER_PAGE) });
    const from = utc($("h-from").value), to = utc($("h-to").value), text = $("h-q").value.trim();
    if (from) q.set("from", from);
    if (to) q.set("to", to);
    if (text) q.set("q", text);
    return q;
  }

  function row(inc) {
    const cat = inc.category || {};
    return el("div", {
      class: `card st-${inc.state}`, dataset: { incidentId: inc.incident_id, state: inc.state },
      onclick: () => showWhole(inc.incident_id),
    },
      el("div", { class: "row" }, el("span", { class: "title" }, `${cat.name || cat.key} ${cat.code || ""}`), cw.badge(inc.state)),
      el("div", {}, cw.place(inc)),
      el("div", { class: "meta" }, `${inc.incident_id} · ${inc.camera_id || "-"} · opened ${cw.time(inc.opened_at)} · last ${cw.time(inc.updated_at)}`
        + (inc.unit_id ? ` · ${inc.unit_id}` : "")));
  }

  async function search(p) {
    const out = $("h-result");
    out.className = "result"; out.textContent = "searching…";
    try {
      const data = await api(`/api/incidents?${query(p)}`);
      page = data.page;
      const pages = Math.max(1, Math.ceil(data.total / data.per_page));
      out.textContent = `${data.total} incident(s) · page ${data.page} of ${pages}`;
      $("h-prev").disabled = data.page <= 1;
      $("h-next").disabled = data.page >= pages;
      $("h-list").replaceChildren(...(data.incidents.length ? data.incidents.map(row) : [el("div", { class: "empty" }, "Nothing found.")]));
    } catch (e) {
      out.className = "result error"; out.textContent = e.message;
      $("h-list").replaceChildren();
    }
  }

  function cases(items) {
    if (!items || !items.length) return el("div", { class: "muted" }, "No case.");
    return el("ul", { class: "cases" }, items.map((c) => el("li", {},
      el("b", {}, c.case_id), ` → ${c.unit_id} (${c.level || "-"}) · dispatched ${cw.time(c.created_at)} · due ${cw.time(c.due_at)}`,
      ...(c.updates || []).map((u) => el("div", { class: "muted" }, `${cw.time(u.at)} ${u.status} ${u.by || u.unit_id || ""} ${u.note || ""}`)))));
  }

  async function showWhole(id) {
    const box = $("h-detail");
    box.replaceChildren(el("h2", {}, "Incident history"), el("div", { class: "muted" }, "loading…"));
    try {
      const inc = await api(`/api/incidents/${encodeURIComponent(id)}`);
      const cat = inc.category || {};
      const kept = inc.history_omitted ? `, ${inc.history_omitted} not kept` : "";
      box.replaceChildren(
        el("h2", {}, "Incident ", el("span", { class: "muted" }, inc.incident_id)),
        el("div", { class: "row" }, el("b", {}, `${cat.name || cat.key} (${cat.code || "-"})`), " ", cw.badge(inc.state)),
        el("dl", { class: "facts" },
          el("dt", {}, "Where"), el("dd", {}, cw.place(inc)),
          el("dt", {}, "Camera / zone"), el("dd", {}, `${inc.camera_id || "-"} / ${inc.zone_id || "-"}`),
          el("dt", {}, "Grid"), el("dd", {}, (inc.location || {}).grid_id || "-"),
          el("dt", {}, "Opened"), el("dd", {}, cw.time(inc.opened_at)),
          el("dt", {}, "Last change"), el("dd", {}, cw.time(inc.updated_at)),
          el("dt", {}, "Shown from"), el("dd", {}, inc.source === "board" ? "the live board" : "the case record")),
        el("h2", {}, "Evidence"),
        cw.evidence(inc.evidence_items),
        el("h2", {}, `Cases (${(inc.cases || []).length})`),
        cases(inc.cases),
        el("h2", { style: "margin-top:.8rem" }, `Timeline (${(inc.history || []).length} events${kept})`),
        cw.timeline(inc.history));
    } catch (e) {
      box.replaceChildren(el("h2", {}, "Incident history"), el("div", { class: "result error" }, e.message));
    }
  }

  $("h-form").addEventListener("submit", (ev) => { ev.preventDefault(); search(1); });
  $("h-prev").addEventListener("click", () => search(page - 1));
  $("h-next").addEventListener("click", () => search(page + 1));
})();
