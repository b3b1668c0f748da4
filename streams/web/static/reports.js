// citywatch reports page: the KPI report of the case record (GET /api/reports/kpis) as tiles and
// Apache ECharts charts; the period comes from ?from=&to= (dates, [from, to)), else the last 30 days.
"use strict";

(() => {
  const { el, api } = cw;
  const $ = (id) => document.getElementById(id);
  const charts = {};

  function isoDay(d) {
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  }

  function defaults() {
    const q = new URLSearchParams(location.search);
    const to = new Date(); to.setDate(to.getDate() + 1);  // tomorrow: today is included
    const from = new Date(to); from.setDate(from.getDate() - 30);
    return { from: q.get("from") || isoDay(from), to: q.get("to") || isoDay(to) };
  }

  const pct = (r) => (r === null || r === undefined ? "–" : `${(r * 100).toFixed(1)}%`);
  const TILES = [
    ["cases_dispatched", "派遣案件 dispatched", (t) => t.cases_dispatched, () => ""],
    ["cases_closed", "结案 closed", (t) => t.cases_closed, (t) => `结案率 close rate ${pct(t.close_rate)}`],
    ["on_time_rate", "按期结案率 on time", (t) => pct(t.on_time_rate), (t) => `${t.cases_on_time} / ${t.cases_closed}`],
    ["rework_rate", "返工率 rework", (t) => pct(t.rework_rate), (t) => `${t.cases_reopened} / ${t.cases_resolved}`],
    ["overdue", "超期 overdue", (t) => t.overdue.cases, (t) => Object.entries(t.overdue.escalations).map(([l, n]) => `→${l} ${n}`).join(" ")],
    ["warning_effectiveness", "喊话有效率 warnings", (t) => pct(t.warning_effectiveness), (t) => `${t.warnings_effective} / ${t.incidents_warned}`],
  ];

  function tiles(total) {
    $("tiles").replaceChildren(...TILES.map(([key, label, value, sub]) => el("div", { class: "tile", id: `tile-${key}` },
      el("div", { class: "label" }, label),
      el("div", { class: "value", dataset: { raw: JSON.stringify(key === "overdue" ? total.overdue.cases : total[key]) } }, value(total)),
      el("div", { class: "sub" }, sub(total)))));
  }

  function draw(id, option) {
    const node = $(id);
    const chart = charts[id] || (charts[id] = echarts.init(node, "dark", { renderer: "canvas" }));
    chart.setOption(Object.assign({ backgroundColor: "transparent", animation: false, tooltip: { trigger: "axis" },
      grid: { left: 8, right: 56, top: 36, bottom: 8, containLabel: true } }, option), true);
  }

  function bars(id, names, values, opts) {
    draw(id, Object.assign({
      xAxis: { type: "value" }, yAxis: { type: "category", data: names, inverse: true },
      series: [{ type: "bar", name: opts.name, data: values, barMaxWidth: 36, label: { show: true, position: "right", formatter: opts.label } }],
    }, opts.extra || {}));
  }

  const rateLabel = (p) => (p.value === null ? "–" : `${(p.value * 100).toFixed(1)}%`);

  function effectiveness(id, groups, key) {
    const warned = groups.filter((g) => g.incidents_warned > 0);
    bars(id, warned.map((g) => g[key]), warned.map((g) => g.warning_effectiveness), { name: "warning_effectiveness", label: rateLabel,
      extra: { xAxis: { type: "value", max: 1, axisLabel: { formatter: (v) => `${v * 100}%` } } } });
  }

  function render(byDay, byUnit, byCategory, byCamera, bySpeaker) {
    tiles(byDay.total);
    const c = byDay.charts;
    draw("chart-trend", {
      legend: { top: 0 }, xAxis: { type: "category", data: c.days }, yAxis: { type: "value", minInterval: 1 },
      series: Object.entries(c.per_day_category).map(([cat, counts]) => ({ type: "bar", stack: "cases", name: cat, data: counts, barMaxWidth: 48 })),
    });
    const units = byUnit.groups.slice().sort((a, b) => (a.on_time_rate ?? 2) - (b.on_time_rate ?? 2));
    bars("chart-units", units.map((g) => g.unit), units.map((g) => g.on_time_rate), { name: "on_time_rate", label: rateLabel,
      extra: { xAxis: { type: "value", max: 1, axisLabel: { formatter: (v) => `${v * 100}%` } } } });
    effectiveness("chart-warnings", byCategory.groups, "category");
    effectiveness("chart-speakers", bySpeaker.groups, "speaker");
    draw("chart-resolve", {
      xAxis: { type: "category", data: c.resolve_minutes.buckets }, yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "bar", name: "cases", data: c.resolve_minutes.counts, barMaxWidth: 48 }],
    });
    const hot = byCamera.groups.filter((g) => g.cases_dispatched > 0).sort((a, b) => b.cases_dispatched - a.cases_dispatched).slice(0, 10);
    bars("chart-cameras", hot.map((g) => g.camera), hot.map((g) => g.cases_dispatched), { name: "cases_dispatched", label: "{c}",
      extra: { xAxis: { type: "value", minInterval: 1 } } });
  }

  async function load(ev) {
    if (ev) ev.preventDefault();
    const from = $("r-from").value, to = $("r-to").value;
    const period = `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
    history.replaceState(null, "", `/reports?${period}`);
    $("r-xlsx").href = `/api/reports/kpis.xlsx?${period}&by=unit`;
    const result = $("r-result");
    result.className = "result"; result.textContent = "loading…";
    document.body.dataset.loaded = "";
    try {
      const base = `/api/reports/kpis?${period}`;
      const [byDay, byUnit, byCategory, byCamera, bySpeaker] = await Promise.all([
        api(`${base}&by=day&charts=1`), api(`${base}&by=unit`), api(`${base}&by=category`), api(`${base}&by=camera`),
        api(`${base}&by=speaker`)]);
      render(byDay, byUnit, byCategory, byCamera, bySpeaker);
      result.textContent = `${byDay.from.slice(0, 10)} .. ${byDay.to.slice(0, 10)} (${byDay.timezone}; working time: ${byDay.working_time})`;
      document.body.dataset.loaded = `${from}/${to}`;
    } catch (e) {
      result.className = "result error"; result.textContent = e.message;
      document.body.dataset.loaded = "error";
    }
  }

  async function start() {
    const me = await cw.whoami();
    $("user").textContent = me.name ? `${me.name} (${me.role})` : me.role || "";
    $("logout").addEventListener("click", cw.logout);
    const d = defaults();
    $("r-from").value = d.from; $("r-to").value = d.to;
    $("r-form").addEventListener("submit", load);
    window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
    await load();
  }

  start().catch((e) => { $("r-result").textContent = e.message; });
})();
