// citywatch zone editor (/cameras/{id}/zones): the camera's zones drawn over its latest picture.
// Click on the picture to draw a polygon (close it on its first point or with "Close polygon"),
// select a zone to drag or delete its vertices and set its fields; "Check" asks the server to run
// the checks of `citywatch check` on the file with these zones (POST /api/cameras/{id}/zones).
"use strict";

(() => {
  const { el, api } = cw;
  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const cameraId = decodeURIComponent(location.pathname.split("/")[2] || "");
  const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

  const st = {
    zones: [],          // the zones as in cameras.yaml (other fields kept as they are)
    categories: [],
    objects: [],        // the latest detections: {label, score, box}
    inside: [],         // per zone: indexes of the objects inside (from the last check), or null
    problems: [],       // from the last check
    selected: -1,
    picked: -1,         // the selected vertex of the selected zone
    drawing: null,      // the points of a polygon being drawn
    size: [1600, 900],  // the picture's size (16:9 until a picture says otherwise)
    writable: false,
    configYaml: "",
    drag: null,
  };

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  }

  const px = ([x, y]) => [x * st.size[0], y * st.size[1]];
  const points = (poly) => poly.map((p) => px(p).join(",")).join(" ");

  function normalised(ev) {
    const r = $("z-overlay").getBoundingClientRect();
    return [round((ev.clientX - r.left) / r.width), round((ev.clientY - r.top) / r.height)];
  }

  function zoneProblems(i) { return st.problems.filter((p) => p.zone === i); }

  // ---------------------------------------------------------------- drawing the overlay

  function render() {
    const overlay = $("z-overlay");
    overlay.setAttribute("viewBox", `0 0 ${st.size[0]} ${st.size[1]}`);
    overlay.replaceChildren();
    const r = st.size[0] / 200;
    const insideAny = new Set(st.inside.filter(Boolean).flat());
    st.objects.forEach((o, k) => {
      const [x1, y1] = px([o.box[0], o.box[1]]);
      const [x2, y2] = px([o.box[2], o.box[3]]);
      const cls = insideAny.has(k) ? "det inside" : "det";
      overlay.append(svg("rect", { class: cls, x: x1, y: y1, width: x2 - x1, height: y2 - y1, "data-index": k }));
      const zonesIn = st.inside.map((found, i) => (found && found.includes(k) ? st.zones[i].id : null)).filter(Boolean);
      const font = st.size[0] / 70;
      const label = svg("text", { class: "det-label", x: x1 + font / 4, y: y1 - font / 3, "font-size": font });
      label.textContent = `${o.label} ${o.score.toFixed(2)}${zonesIn.length ? " in " + zonesIn.join(", ") : ""}`;
      overlay.append(label);
    });
    st.zones.forEach((z, i) => {
      const poly = Array.isArray(z.polygon) ? z.polygon : [];
      const bad = zoneProblems(i).length ? " bad" : "";
      const shape = poly.length >= 3
        ? svg("polygon", { class: `zone${i === st.selected ? " selected" : ""}${bad}`, points: points(poly), "data-zone": i })
        : svg("polyline", { class: `zone${bad}`, points: points(poly), "data-zone": i });
      shape.addEventListener("pointerdown", (ev) => { if (!st.drawing) { ev.stopPropagation(); select(i); } });
      overlay.append(shape);
      if (i === st.selected) {
        poly.forEach((p, v) => {
          const [cx, cy] = px(p);
          const dot = svg("circle", { class: `vertex${v === st.picked ? " picked" : ""}`, cx, cy, r, "data-vertex": v });
          dot.addEventListener("pointerdown", (ev) => {
            ev.stopPropagation();
            st.picked = v;
            st.drag = { zone: i, vertex: v };
            overlay.setPointerCapture(ev.pointerId);
            renderForm();
            render();
          });
          overlay.append(dot);
        });
      }
    });
    if (st.drawing) {
      overlay.append(svg("polyline", { class: "drawing", points: points(st.drawing) }));
      st.drawing.forEach((p, v) => {
        const [cx, cy] = px(p);
        overlay.append(svg("circle", { class: v === 0 ? "vertex first" : "vertex", cx, cy, r, "data-draw": v }));
      });
    }
    renderNotes();
  }

  // each zone's problems beside its polygon (at its topmost point)
  function renderNotes() {
    const notes = $("z-notes");
    notes.replaceChildren();
    st.zones.forEach((z, i) => {
      const found = zoneProblems(i);
      const poly = Array.isArray(z.polygon) ? z.polygon.filter((p) => Array.isArray(p) && p.length === 2) : [];
      if (!found.length || !poly.length) return;
      const top = poly.reduce((a, b) => (b[1] < a[1] ? b : a));
      const x = Math.min(0.8, Math.max(0.2, Number(top[0]) || 0));
      const y = Math.max(0.08, Number(top[1]) || 0);
      notes.append(el("div", { class: "z-note", "data-zone": i, style: `left:${x * 100}%;top:${y * 100}%` },
        found.map((p) => p.message).join(" · ")));
    });
  }

  function renderList() {
    const list = $("z-list");
    list.replaceChildren(...st.zones.map((z, i) => {
      const found = zoneProblems(i);
      const n = st.inside[i];
      return el("div", { class: i === st.selected ? "z-item selected" : "z-item", "data-zone": i, onclick: () => select(i) },
        el("b", {}, z.id || "(no id)"), " ", z.name || "", " ",
        el("span", { class: "muted" }, (z.categories || []).join(", ")),
        n ? el("span", { class: "muted" }, ` · ${n.length} inside`) : null,
        found.map((p) => el("div", { class: "bad" }, `${p.field ? p.field + ": " : ""}${p.message}`)));
    }));
    const general = st.problems.filter((p) => p.zone === null || p.zone === undefined);
    $("z-problems").replaceChildren(...st.problems.map((p) => el("li", { "data-zone": p.zone ?? "" },
      `${p.zone !== null && p.zone !== undefined ? `zone ${p.zone_id || p.zone}` : p.field || "file"}: ${p.message}`)));
    if (!st.problems.length && !general.length) $("z-problems").append(el("li", { class: "muted" }, "none"));
  }

  function renderForm() {
    const z = st.zones[st.selected];
    $("z-form").hidden = !z;
    if (!z) return;
    $("z-id").value = z.id || "";
    $("z-name").value = z.name || "";
    $("z-hours").value = z.active_hours || "";
    for (const opt of $("z-categories").options) opt.selected = (z.categories || []).includes(opt.value);
    $("z-del-vertex").disabled = st.picked < 0;
  }

  function renderAll() { render(); renderList(); renderForm(); renderTools(); }

  function renderTools() {
    $("z-close").disabled = !st.drawing || st.drawing.length < 1;
    $("z-cancel").disabled = !st.drawing;
    $("z-new").disabled = !!st.drawing;
    $("z-save").disabled = !st.writable;
    $("z-save").title = st.writable ? "" : "set web.config_writable: true to save from the browser; download the file instead";
  }

  function select(i) {
    st.selected = i;
    st.picked = -1;
    renderAll();
  }

  // ---------------------------------------------------------------- editing

  function nextId() {
    const ids = new Set(st.zones.map((z) => z.id));
    let n = st.zones.length + 1;
    while (ids.has(`zone-${n}`)) n += 1;
    return `zone-${n}`;
  }

  function closeDrawing() {
    if (!st.drawing || !st.drawing.length) return;
    st.zones.push({ id: nextId(), name: "", polygon: st.drawing, categories: [] });
    st.drawing = null;
    select(st.zones.length - 1);
  }

  function onOverlayDown(ev) {
    if (!st.drawing) { if (ev.target === $("z-overlay")) select(-1); return; }
    const p = normalised(ev);
    if (st.drawing.length >= 3) {
      const [fx, fy] = px(st.drawing[0]);
      const [x, y] = px(p);
      if (Math.hypot(fx - x, fy - y) <= st.size[0] / 80) { closeDrawing(); return; }
    }
    st.drawing.push(p);
    render();
    renderTools();
  }

  function onOverlayMove(ev) {
    if (!st.drag) return;
    st.zones[st.drag.zone].polygon[st.drag.vertex] = normalised(ev);
    render();
  }

  function onOverlayUp() { st.drag = null; }

  function edited(fn) {
    const z = st.zones[st.selected];
    if (!z) return;
    fn(z);
    renderList();
    render();
  }

  // ---------------------------------------------------------------- checking and saving

  function body(save) {
    return { zones: st.zones, save };
  }

  function showResult(res) {
    st.problems = res.problems;
    st.inside = res.inside_by_zone || [];
    st.configYaml = res.config_yaml || "";
    $("z-yaml").textContent = res.zones_yaml || "";
    const link = $("z-download");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    if (st.configYaml) {
      link.href = URL.createObjectURL(new Blob([st.configYaml], { type: "text/yaml" }));
      link.setAttribute("aria-disabled", "false");
    }
    const out = $("z-result");
    out.textContent = res.saved
      ? `saved; previous version kept as ${res.backup}`
      : res.ok ? "OK: citywatch check accepts these zones" : `${res.problems.length} problem(s)`;
    out.className = res.ok ? "result good" : "result bad";
    out.dataset.ok = String(res.ok);
    out.dataset.saved = String(res.saved);
    renderAll();
  }

  async function send(save) {
    const out = $("z-result");
    out.textContent = save ? "saving…" : "checking…";
    out.className = "result";
    delete out.dataset.ok;
    try {
      showResult(await api(`/api/cameras/${encodeURIComponent(cameraId)}/zones`, { method: "POST", body: body(save) }));
    } catch (e) {
      out.textContent = e.message;
      out.className = "result bad";
      out.dataset.ok = "false";
    }
  }

  // ---------------------------------------------------------------- start

  function showPicture(has, live) {
    const img = $("z-picture");
    if (live && Array.isArray(live.frame_size)) st.size = live.frame_size.map(Number);
    if (has) {
      img.onload = () => {
        st.size = [img.naturalWidth, img.naturalHeight];
        $("z-stage").style.aspectRatio = `${st.size[0]} / ${st.size[1]}`;
        $("z-empty").hidden = true;
        img.hidden = false;
        render();
      };
      img.src = `/cameras/${encodeURIComponent(cameraId)}/zones/picture.jpg?t=${Date.now()}`;
    }
    $("z-live").textContent = live
      ? `latest detections ${live.captured_at || ""}: ${live.objects.length} object(s); green boxes count in a zone (after Check)`
      : "no detections of this camera yet";
  }

  async function start() {
    const me = await cw.whoami();
    $("user").textContent = `${me.name} (${me.role})`;
    $("logout").addEventListener("click", cw.logout);
    $("z-camera").textContent = cameraId;
    const data = await api(`/api/cameras/${encodeURIComponent(cameraId)}/zones`);
    st.zones = data.zones;
    st.writable = data.writable;
    st.categories = data.categories;
    st.objects = data.live ? data.live.objects : [];
    $("z-categories").replaceChildren(...st.categories.map((c) => el("option", { value: c.key }, `${c.key} ${c.name}`)));
    showPicture(data.picture, data.live);
    const options = await api("/api/options");
    $("z-cameras").replaceChildren(...(options.cameras || []).map((c) => {
      const id = typeof c === "string" ? c : c.id;
      return el("option", { value: id, selected: id === cameraId }, id);
    }));
    $("z-cameras").addEventListener("change", (ev) => { location.href = `/cameras/${encodeURIComponent(ev.target.value)}/zones`; });

    const overlay = $("z-overlay");
    overlay.addEventListener("pointerdown", onOverlayDown);
    overlay.addEventListener("pointermove", onOverlayMove);
    overlay.addEventListener("pointerup", onOverlayUp);
    $("z-new").addEventListener("click", () => { st.drawing = []; select(-1); });
    $("z-close").addEventListener("click", closeDrawing);
    $("z-cancel").addEventListener("click", () => { st.drawing = null; renderAll(); });
    $("z-id").addEventListener("input", (ev) => edited((z) => { z.id = ev.target.value.trim(); }));
    $("z-name").addEventListener("input", (ev) => edited((z) => { z.name = ev.target.value; }));
    $("z-hours").addEventListener("input", (ev) => edited((z) => { z.active_hours = ev.target.value.trim() || null; }));
    $("z-categories").addEventListener("change", (ev) => edited((z) => {
      z.categories = [...ev.target.selectedOptions].map((o) => o.value);
    }));
    $("z-del-vertex").addEventListener("click", () => edited((z) => {
      if (st.picked >= 0) z.polygon.splice(st.picked, 1);
      st.picked = -1;
      renderForm();
    }));
    $("z-del-zone").addEventListener("click", () => {
      if (st.selected < 0) return;
      st.zones.splice(st.selected, 1);
      st.problems = [];
      st.inside = [];
      select(-1);
    });
    $("z-check").addEventListener("click", () => send(false));
    $("z-save").addEventListener("click", () => send(true));
    renderAll();
    await send(false);
    document.body.dataset.ready = "true";
  }

  start().catch((e) => { $("z-result").textContent = e.message; console.error(e); });
})();
