// citywatch wall screen (a 1920x1080 or 3840x2160 screen of the command centre, read from across the
// room): counts of open incidents by state, the live list, the map and the camera wall together,
// with no scrolling. One live stream feeds the list, the counts and the map; cameras are re-read
// every few seconds and, when more than fit, shown a page at a time.
"use strict";

(() => {
  const { el, api } = cw;
  const $ = (id) => document.getElementById(id);
  const CAMERAS_MS = 3000;
  const PAGE_MS = 12000; // each page of cameras stays this long when they do not all fit
  const TALLY = [ // state group -> label (the groups of map.js, the colours of the board's badges)
    ["alarm", "待处置 Open"], ["warned", "已喊话 Warned"], ["dispatched", "已派遣 Dispatched"],
    ["late", "超期 Overdue"], ["checking", "待核查 Verifying"],
  ];
  const incidents = new Map(); // incident_id -> record, open ones only
  let mapView = null;
  let cameras = [];
  let page = 0;
  let timezone;

  const group = (state) => citywatchMap.STATE_GROUP[state] || "other";
  const isOpen = (inc) => !cw.inStates("final_states", inc.state);

  function keep(inc) {
    const old = incidents.get(inc.incident_id);
    if (!cw.newer(inc, old)) return false;
    if (isOpen(inc)) incidents.set(inc.incident_id, inc); else incidents.delete(inc.incident_id);
    return true;
  }

  function renderTallies() {
    const counts = {};
    for (const inc of incidents.values()) counts[group(inc.state)] = (counts[group(inc.state)] || 0) + 1;
    $("tallies").replaceChildren(...TALLY.map(([key, label]) => el("div", { class: `tally t-${key}`, dataset: { group: key } },
      el("b", {}, String(counts[key] || 0)), el("span", {}, label))));
    $("open-count").textContent = `${incidents.size} open`;
  }

  function renderList() {
    const items = [...incidents.values()].sort((a, b) => (b.updated_at || "").localeCompare(a.updated_at || ""));
    $("incidents").replaceChildren(...items.slice(0, 40).map((inc) => {
      const cat = inc.category || {};
      return el("li", { class: `wall-inc st-${inc.state}`, dataset: { id: inc.incident_id, state: inc.state } },
        el("div", { class: "row" }, el("b", {}, cat.name || cat.key || inc.incident_id), cw.badge(inc.state)),
        el("div", { class: "where" }, cw.place(inc)),
        el("div", { class: "meta" }, `${inc.camera_id || inc.sensor_id || ""} · ${cw.ago(inc.updated_at || inc.opened_at)}`));
    }));
    if (!items.length) $("incidents").append(el("li", { class: "empty" }, "No open incidents. 暂无待处置事件"));
  }

  function render() { renderTallies(); renderList(); }

  async function reload() {
    const data = await api("/api/incidents?limit=1000");
    incidents.clear();
    for (const inc of data.incidents) if (isOpen(inc)) incidents.set(inc.incident_id, inc);
    render();
    if (mapView) await mapView.reload();
  }

  // as many tiles as the panel holds (two columns of 16:9 pictures with captions); pages rotate
  function perPage() {
    const box = $("cameras");
    const width = box.clientWidth / 2;
    const tile = width * 9 / 16 + 2.6 * parseFloat(getComputedStyle(document.documentElement).fontSize);
    return Math.max(2, 2 * Math.floor(box.clientHeight / tile));
  }

  function tile(cam) {
    const n = cam.open_incidents || 0;
    return el("a", { class: "wall-tile", href: `/cameras/${encodeURIComponent(cam.id)}`, dataset: { camera: cam.id, status: cam.status } },
      el("div", { class: "pic-cell" }, camview.picture(cam)),
      el("div", { class: "caption" }, el("span", { class: "name" }, cam.name || cam.id), camview.badge(cam),
        el("span", { class: "count" + (n ? " some" : "") }, `${n}`)));
  }

  function renderCameras() {
    const size = perPage();
    const pages = Math.max(1, Math.ceil(cameras.length / size));
    page %= pages;
    $("cameras").replaceChildren(...cameras.slice(page * size, page * size + size).map(tile));
    $("cam-page").textContent = pages > 1 ? `${page + 1}/${pages} · ${cameras.length}` : `${cameras.length}`;
  }

  async function refreshCameras() {
    cameras = (await api("/api/cameras")).cameras;
    renderCameras();
  }

  function tick() {
    $("clock").textContent = new Date().toLocaleString("zh-CN", { hour12: false, timeZone: timezone });
  }

  async function start() {
    await cw.whoami();
    const options = await api("/api/options");
    cw.setOptions(options);
    timezone = options.timezone;
    $("site").textContent = options.site;
    tick();
    setInterval(tick, 1000);
    mapView = citywatchMap.mount($("map"), {
      live: false,
      onUnplaced: (items) => { $("unplaced-count").textContent = items.length ? `${items.length} not on the map` : ""; },
    });
    await refreshCameras();
    setInterval(() => refreshCameras().catch((e) => console.error(e)), CAMERAS_MS);
    setInterval(() => { page += 1; renderCameras(); }, PAGE_MS);
    setInterval(renderList, 30000); // "x min ago"
    setInterval(() => mapView.reload().catch((e) => console.error(e)), 30000); // cameras' and sensors' states
    window.addEventListener("resize", renderCameras);
    cw.live({
      alert: (inc) => { if (keep(inc)) { render(); mapView.alert(inc); } },
    }, () => reload().catch((e) => console.error(e)), $("live"));
  }

  start().catch((e) => { document.body.prepend(el("div", { class: "result error" }, `Cannot load the wall screen: ${e.message}`)); });
})();
