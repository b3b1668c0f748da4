// citywatch map page (/map): the header, the legend and the map of static/map.js.
"use strict";

(() => {
  const { el, api } = cw;
  const $ = (id) => document.getElementById(id);

  function legend() {
    const row = (kind, group, text) => el("div", { class: "legend-row" },
      el("span", { class: "cw-mk-box legend-mark" }, el("span", { class: `cw-mk cw-${kind} st-${group}` })), text);
    return [
      row("camera", "unknown", "camera, state not known 摄像头"), row("camera", "offline", "camera offline 离线"),
      row("sensor", "unknown", "sensor 传感器"), row("sensor", "stale", "sensor silent 无数据"),
      row("speaker", "unknown", "loudspeaker 喇叭"),
      row("incident", "alarm", "incident open / reopened 待处置"), row("incident", "warned", "warned 已喊话"),
      row("incident", "dispatched", "dispatched / accepted / arrived 已派遣"), row("incident", "late", "overdue 超期"),
      row("incident", "checking", "resolved, being verified 核查中"),
      el("div", { class: "legend-row" }, el("span", { class: "legend-grid" }), "grid outline 网格"),
    ];
  }

  async function start() {
    const me = await cw.whoami();
    const options = await api("/api/options");
    cw.setOptions(options);
    $("site").textContent = options.site;
    $("user").textContent = `${me.name} (${me.role})`;
    $("logout").addEventListener("click", cw.logout);
    $("legend").replaceChildren(...legend());
    window.cwMapView = citywatchMap.mount($("map"), {
      indicator: $("live"),
      unplaced: $("unplaced"),
      onUnplaced: (items) => { $("unplaced-count").textContent = `(${items.length})`; },
    });
  }

  start().catch((e) => { document.body.prepend(el("div", { class: "result error" }, `Cannot load the map: ${e.message}`)); });
})();
