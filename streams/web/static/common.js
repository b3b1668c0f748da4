// citywatch: helpers shared by the board and the patrol view (no framework, no build step).
"use strict";

const cw = (() => {
  let me = null;

  // Build an element; text always goes in as text, never as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  async function api(path, options) {
    const opts = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
    if (opts.body !== undefined && typeof opts.body !== "string") {
      opts.body = JSON.stringify(opts.body);
      opts.headers["Content-Type"] = "application/json";
    }
    if (opts.method && opts.method !== "GET" && me && me.csrf) opts.headers["X-CSRF-Token"] = me.csrf;
    const res = await fetch(path, opts);
    if (res.status === 401) { location.href = "/login?next=" + encodeURIComponent(location.pathname); throw new Error("signed out"); }
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || res.statusText);
    return data;
  }

  async function whoami() {
    me = await api("/api/whoami");
    return me;
  }

  async function logout() {
    try { await api("/logout", { method: "POST" }); } finally { location.href = "/login"; }
  }

  // Live events; onOpen runs on every (re)connect so the page reloads what it may have missed.
  function live(handlers, onOpen, indicator) {
    const source = new EventSource("/api/events");
    source.addEventListener("open", () => { if (indicator) { indicator.textContent = "live"; indicator.classList.add("on"); } onOpen(); });
    source.addEventListener("error", () => { if (indicator) { indicator.textContent = "reconnecting"; indicator.classList.remove("on"); } });
    for (const [kind, fn] of Object.entries(handlers)) {
      source.addEventListener(kind, (ev) => { try { fn(JSON.parse(ev.data)); } catch (e) { console.error(e); } });
    }
    return source;
  }

  let tz;
  // The incident lifecycle of streams/logic/lifecycle.py (its describe()), the "lifecycle" field of /api/options.
  let lifecycle = null;
  function setOptions(options) { tz = options.timezone; lifecycle = options.lifecycle; }
  // Whether an incident state is one of a lifecycle group (open_states, final_states, assigned_states, ...).
  function inStates(group, state) { return lifecycle[group].includes(state); }
  // Whether a patrol unit's update (accepted, arrived, resolved, rejected) counts for a case in this state.
  function canUpdate(status, state) { return (lifecycle.update_from[status] || []).includes(state); }
  function time(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toLocaleString(undefined, { timeZone: tz, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  }
  function ago(iso) {
    if (!iso) return "";
    const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    const a = Math.abs(s);
    const txt = a < 90 ? `${a} s` : a < 5400 ? `${Math.round(a / 60)} min` : `${Math.round(a / 3600)} h`;
    return s >= 0 ? `${txt} ago` : `in ${txt}`;
  }

  // An incident record is newer when its revision is larger (streams/logic/lifecycle.py alert_version).
  function newer(a, b) {
    if (!b) return true;
    const ra = a.revision || 0, rb = b.revision || 0;
    if (ra !== rb) return ra > rb;
    const la = (a.history || []).length + (a.history_omitted || 0);
    const lb = (b.history || []).length + (b.history_omitted || 0);
    return la > lb || (la === lb && (a.updated_at || "") >= (b.updated_at || ""));
  }

  function badge(state) { return el("span", { class: `badge s-${state}` }, state); }

  function evidence(items) {
    if (!items || !items.length) return el("div", { class: "muted" }, "No evidence pictures yet.");
    return el("div", { class: "evidence" }, items.map((it) => el("figure", {},
      it.url ? el("a", { href: it.url, target: "_blank", rel: "noopener" }, el("img", { src: it.url, alt: it.label, loading: "lazy" }))
             : el("div", { class: "missing" }, it.path),
      el("figcaption", {}, it.label))));
  }

  function timeline(history) {
    const items = (history || []).slice().reverse();
    return el("ol", { class: "timeline" }, items.map((h) => el("li", {},
      el("div", {}, badge(h.state), " ", el("b", {}, h.by), " ", h.note || ""),
      el("div", { class: "when" }, time(h.at)))));
  }

  function place(inc) {
    const loc = inc.location || {};
    return [loc.shop, loc.address].filter(Boolean).join(" · ") || inc.camera_id || "";
  }

  return { el, api, whoami, logout, live, time, ago, newer, badge, evidence, timeline, place, setOptions, inStates, canUpdate, get me() { return me; } };
})();
