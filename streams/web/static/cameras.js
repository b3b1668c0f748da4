// citywatch camera wall: a tile per configured camera with its live picture, zones, boxes, status,
// fps and open incidents; refreshed every few seconds. A tile opens the camera's page.
"use strict";

(() => {
  const { el, api } = cw;
  const $ = (id) => document.getElementById(id);
  const REFRESH_MS = 3000;
  const tiles = new Map();

  function caption(cam) {
    const n = cam.open_incidents || 0;
    return el("div", { class: "caption" },
      el("span", { class: "name" }, cam.name || cam.id),
      camview.badge(cam),
      el("span", { class: "count" + (n ? " some" : ""), dataset: { open: n }, title: "open incidents" }, `${n} open`),
      el("div", { class: "meta" }, `${cam.id} · ${cam.address} · ${camview.fps(cam)}` + (cam.snapshot_at ? ` · ${cw.ago(cam.snapshot_at)}` : "")));
  }

  function tile(cam) {
    let node = tiles.get(cam.id);
    if (!node) {
      node = el("a", { class: "tile", href: `/cameras/${encodeURIComponent(cam.id)}`, dataset: { camera: cam.id } }, el("div", { class: "pic-frame" }, camview.picture(cam)), caption(cam));
      tiles.set(cam.id, node);
    } else {
      camview.render(node.querySelector(".pic"), cam);
      node.querySelector(".caption").replaceWith(caption(cam));
    }
    node.dataset.status = cam.status;
    return node;
  }

  async function refresh() {
    const data = await api("/api/cameras");
    const wall = $("wall");
    if (!data.cameras.length) { wall.replaceChildren(el("div", { class: "empty" }, "No cameras in the configuration.")); return; }
    wall.replaceChildren(...data.cameras.map(tile));
    $("updated").textContent = `updated ${cw.time(new Date().toISOString())}`;
  }

  async function start() {
    const me = await cw.whoami();
    const options = await api("/api/options");
    cw.setOptions(options);
    $("site").textContent = options.site;
    $("user").textContent = `${me.name} (${me.role})`;
    $("logout").addEventListener("click", cw.logout);
    await refresh();
    setInterval(() => refresh().catch((e) => { $("updated").textContent = `not updated: ${e.message}`; }), REFRESH_MS);
  }

  start().catch((e) => { document.body.prepend(el("div", { class: "result error" }, `Cannot load the cameras: ${e.message}`)); });
})();
