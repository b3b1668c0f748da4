// citywatch map: cameras, sensors, speakers, grid outlines and open incidents on a Leaflet map
// (static/vendor/leaflet.js), from GET /api/map, with open incidents kept live.
//
//   const view = citywatchMap.mount(element, options)
//
// options: data (an /api/map answer: not fetched then), live (default true: subscribe to
// /api/events; false: the embedding page feeds view.alert(incident) itself), indicator (element
// showing live/reconnecting), unplaced (a <ul> for what has no lat/lon) and onUnplaced(items)
// (told whenever that list changes), onLoad(data).
// view: { map, alert(incident), reload(), show(kind, id) (opens its popup), destroy() }.
// Without web.map_tiles the map is a plain lat/lon canvas: nothing is asked of any other host.
// Needs common.js (cw) and Leaflet; text goes in as text nodes, never as HTML.
"use strict";

window.citywatchMap = (() => {
  const { el } = cw;
  // incident state -> colour group (the board's badges in app.css)
  const STATE_GROUP = {
    open: "alarm", reopened: "alarm", overdue: "late", warned: "warned",
    dispatched: "dispatched", accepted: "dispatched", arrived: "dispatched",
    resolved: "checking", verifying: "checking", verified: "done", cleared: "done", closed: "done",
  };
  const KIND_NAMES = { camera: "camera 摄像头", sensor: "sensor 传感器", speaker: "speaker 喇叭", incident: "incident 事件" };

  // beside: drawn up and to the right of its point (a speaker hung where its camera is)
  function icon(kind, id, state, beside) {
    const group = kind === "incident" ? STATE_GROUP[state] || "other" : state || "unknown";
    const node = el("div", { class: `cw-mk cw-${kind} st-${group}`, dataset: { kind, id, state: state || "" }, title: `${kind} ${id}` });
    const size = kind === "incident" ? 20 : 16;
    const anchor = beside ? [-2, size + 2] : [size / 2, size / 2];
    return L.divIcon({ html: node, className: "cw-mk-box", iconSize: [size, size], iconAnchor: anchor });
  }

  function fact(label, value) { return value ? [el("dt", {}, label), el("dd", {}, value)] : []; }

  function popup(kind, item) {
    const title = item.name ? `${item.name} (${item.id})` : item.id;
    const facts = [...fact("address", item.address), ...fact("state", item.status || item.state)];
    if (kind === "camera") facts.push(...fact("grid", item.grid), ...fact("speaker", item.speaker), ...fact("open incidents", String(item.open_incidents)));
    if (kind === "sensor") facts.push(...fact("measures", item.kind), ...fact("grid", item.grid), ...fact("open incidents", String(item.open_incidents)));
    if (kind === "speaker") facts.push(...fact("cameras", (item.cameras || []).join(", ")), ...fact("placed at", item.placed_at && `camera ${item.placed_at}`));
    if (kind === "incident") {
      const cat = item.category || {};
      facts.push(...fact("category", [cat.name, cat.code].filter(Boolean).join(" ")), ...fact("subject", item.camera_id || item.sensor_id),
        ...fact("opened", `${cw.time(item.opened_at)} (${cw.ago(item.opened_at)})`));
    }
    const link = kind === "incident" ? el("a", { href: `/#incident=${encodeURIComponent(item.id)}`, class: "cw-link" }, "open on the board 看板")
      : kind === "camera" ? el("a", { href: `/cameras/${encodeURIComponent(item.id)}`, class: "cw-link" }, "camera page 摄像头")
        : null;
    return el("div", { class: "cw-popup", dataset: { kind, id: item.id } },
      el("div", { class: "cw-popup-kind" }, KIND_NAMES[kind]), el("b", {}, title), el("dl", { class: "facts" }, facts), link);
  }

  // A lat/lon graticule for the tile-less canvas: lines at a round step for the view.
  function graticule(map, layer) {
    layer.clearLayers();
    const b = map.getBounds().pad(0.5);
    const span = Math.max(b.getNorth() - b.getSouth(), b.getEast() - b.getWest());
    const steps = [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 30];
    const step = steps.find((s) => span / s <= 12) || 30;
    const style = { className: "cw-graticule", interactive: false, weight: 1 };
    for (let lat = Math.ceil(b.getSouth() / step) * step; lat <= b.getNorth(); lat += step) layer.addLayer(L.polyline([[lat, b.getWest()], [lat, b.getEast()]], style));
    for (let lon = Math.ceil(b.getWest() / step) * step; lon <= b.getEast(); lon += step) layer.addLayer(L.polyline([[b.getSouth(), lon], [b.getNorth(), lon]], style));
    return step;
  }

  function mount(element, options) {
    const opts = options || {};
    element.classList.add("cw-map");
    const map = L.map(element, { attributionControl: false, zoomControl: true, zoomSnap: 0.25 });
    const layers = { grid: L.layerGroup().addTo(map), camera: L.layerGroup().addTo(map), sensor: L.layerGroup().addTo(map), speaker: L.layerGroup().addTo(map), incident: L.layerGroup().addTo(map) };
    const markers = { camera: new Map(), sensor: new Map(), speaker: new Map(), incident: new Map() };
    const incidents = new Map(); // id -> the latest record seen (live events are compared with it)
    const lines = L.layerGroup().addTo(map);
    const credit = el("div", { class: "cw-attribution" });
    element.append(credit);
    let data = null, tiles = null, fitted = false, source = null, refresh = null;

    function place(kind, item) {
      const known = markers[kind].get(item.id);
      const state = item.status || item.state, beside = Boolean(item.placed_at);
      const look = `${state}|${beside}`; // the icon is made again only when it changes (its element is replaced)
      if (known) {
        known.setLatLng([item.lat, item.lon]);
        if (known.look !== look) { known.setIcon(icon(kind, item.id, state, beside)); known.look = look; }
        return known;
      }
      const marker = L.marker([item.lat, item.lon], { icon: icon(kind, item.id, state, beside), zIndexOffset: kind === "incident" ? 1000 : kind === "camera" ? 500 : 0, title: item.name || item.id, keyboard: true });
      marker.bindPopup(() => popup(kind, marker.item), { maxWidth: 320 });
      marker.look = look;
      layers[kind].addLayer(marker);
      markers[kind].set(item.id, marker);
      return marker;
    }
    function put(kind, item) {
      const marker = place(kind, item);
      marker.item = item;
      if (marker.isPopupOpen()) marker.getPopup().update(); // its text follows the live record
    }
    function drop(kind, id) { const m = markers[kind].get(id); if (m) { layers[kind].removeLayer(m); markers[kind].delete(id); } }

    function where(subject) { // an incident without its own lat/lon is drawn at its camera or sensor
      const thing = data && [...data.cameras, ...data.sensors].find((t) => t.id === subject);
      return thing ? [thing.lat, thing.lon] : [null, null];
    }

    function unplacedList() {
      const items = data.unplaced.filter((u) => u.kind !== "incident" || incidents.has(u.id));
      if (opts.onUnplaced) opts.onUnplaced(items);
      if (!opts.unplaced) return;
      opts.unplaced.replaceChildren(...items.map((u) => el("li", { dataset: { kind: u.kind, id: u.id } },
        el("span", { class: "muted" }, u.kind), " ", el("b", {}, u.id), u.name ? ` ${u.name}` : "", u.address ? ` · ${u.address}` : "", u.state ? [" ", cw.badge(u.state)] : "")));
      if (!items.length) opts.unplaced.replaceChildren(el("li", { class: "muted" }, "everything has a place"));
    }

    function render(next) {
      data = next;
      if (data.tiles && !tiles) {
        tiles = L.tileLayer(data.tiles, { maxZoom: 19, className: "cw-tiles" }).addTo(map);
        element.classList.add("has-tiles");
      }
      credit.textContent = data.tiles ? data.attribution || "" : "";
      layers.grid.clearLayers();
      for (const g of data.grids) {
        const outline = L.polygon(g.polygon, { className: `cw-grid grid-${g.id}`, weight: 2, fillOpacity: 0.06 });
        outline.bindPopup(() => el("div", { class: "cw-popup", dataset: { kind: "grid", id: g.id } },
          el("div", { class: "cw-popup-kind" }, "grid 网格"), el("b", {}, g.name ? `${g.name} (${g.id})` : g.id), el("dl", { class: "facts" }, fact("unit", g.unit))));
        layers.grid.addLayer(outline);
      }
      for (const kind of ["camera", "sensor", "speaker"]) {
        const ids = new Set(data[`${kind}s`].map((i) => i.id));
        for (const id of [...markers[kind].keys()]) if (!ids.has(id)) drop(kind, id);
        for (const item of data[`${kind}s`]) put(kind, item);
      }
      incidents.clear();
      const open = new Set(data.incidents.map((i) => i.id));
      for (const id of [...markers.incident.keys()]) if (!open.has(id)) drop("incident", id);
      for (const inc of data.incidents) { incidents.set(inc.id, inc); put("incident", inc); }
      for (const u of data.unplaced) if (u.kind === "incident") incidents.set(u.id, u);
      unplacedList();
      if (!fitted) fit();
      if (opts.onLoad) opts.onLoad(data);
    }

    function fit() {
      const points = [...data.cameras, ...data.sensors, ...data.speakers, ...data.incidents].map((i) => [i.lat, i.lon]);
      for (const g of data.grids) points.push(...g.polygon);
      if (points.length) { map.fitBounds(L.latLngBounds(points).pad(0.15), { maxZoom: 18 }); fitted = true; } else map.setView([0, 0], 2);
      if (!data.tiles) graticule(map, lines);
    }
    map.on("moveend", () => { if (data && !data.tiles) element.dataset.graticule = graticule(map, lines); });

    async function reload() { render(await cw.api("/api/map")); }

    // A live incident (the board's alert event): moved, recoloured, or taken off once closed.
    function alert(record) {
      const id = record.incident_id;
      const old = incidents.get(id);
      if (old && old.revision !== undefined && !cw.newer(record, old)) return;
      if (((data && data.final_states) || ["closed"]).includes(record.state)) { incidents.delete(id); drop("incident", id); }
      else {
        const loc = record.location || {};
        const [lat, lon] = loc.lat != null && loc.lon != null ? [loc.lat, loc.lon] : where(record.camera_id || record.sensor_id);
        const item = { id, category: record.category, state: record.state, address: [loc.shop, loc.address].filter(Boolean).join(" · "), grid: loc.grid_id,
          camera_id: record.camera_id, sensor_id: record.sensor_id, opened_at: record.opened_at, updated_at: record.updated_at, revision: record.revision, history: record.history, lat, lon };
        incidents.set(id, item);
        if (lat == null || lon == null) { drop("incident", id); if (data) data.unplaced = [...data.unplaced.filter((u) => u.id !== id || u.kind !== "incident"), { kind: "incident", ...item }]; }
        else put("incident", item);
      }
      if (data) unplacedList();
      // a camera's or sensor's state follows its health incidents: ask again, once things settle
      clearTimeout(refresh);
      refresh = setTimeout(() => reload().catch((e) => console.error(e)), 2000);
    }

    function show(kind, id) { const m = markers[kind] && markers[kind].get(id); if (m) m.openPopup(); return Boolean(m); }

    function destroy() { clearTimeout(refresh); if (source) source.close(); map.remove(); }

    if (opts.data) render(opts.data);
    if (opts.live !== false) source = cw.live({ alert }, () => reload().catch((e) => console.error(e)), opts.indicator);
    else if (!opts.data) reload().catch((e) => console.error(e));
    return { map, alert, reload, show, destroy, get data() { return data; } };
  }

  return { mount, STATE_GROUP };
})();
