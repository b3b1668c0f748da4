// citywatch: a camera's live picture with its zones and the latest detection's boxes drawn over it
// (SVG in a 0..1 viewBox: zone polygons and boxes are normalised), and its status badge.
// Shared by the camera wall (cameras.js) and the camera page (camera.js).
"use strict";

const camview = (() => {
  const { el } = cw;
  const SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function overlay(cam) {
    const zones = (cam.zones || []).map((z) => svg("polygon", { points: z.polygon.map(([x, y]) => `${x},${y}`).join(" "), "data-zone": z.id },
      svg("title", {}, z.name ? `${z.id} · ${z.name}` : z.id)));
    const boxes = (cam.objects || []).map((o) => {
      const [x1, y1, x2, y2] = o.box;
      return svg("rect", { x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1), class: (o.zones || []).length ? "in-zone" : null, "data-label": o.label },
        svg("title", {}, `${o.label} ${Number(o.score).toFixed(2)}` + ((o.zones || []).length ? ` in ${o.zones.join(", ")}` : "")));
    });
    return svg("svg", { viewBox: "0 0 1 1", preserveAspectRatio: "none", class: "overlay" }, ...zones, ...boxes);
  }

  // The picture box of a camera: the image (or "no picture yet") with the overlay; ``render`` again
  // with a newer view changes the image only when its URL (which carries the picture's time) did.
  function picture(cam) {
    const box = el("div", { class: "pic", dataset: { camera: cam.id } });
    render(box, cam);
    return box;
  }

  function render(box, cam) {
    const size = cam.frame_size;
    if (size && size[0] > 0 && size[1] > 0) {
      // the frame's own shape, so that the 0..1 overlay lies on the picture; a tall frame is
      // narrowed to keep the box within data-max-vh of the window's height
      box.style.aspectRatio = `${size[0]} / ${size[1]}`;
      box.style.maxWidth = `calc(${box.dataset.maxVh || 45}vh * ${size[0]} / ${size[1]})`;
    }
    let img = box.querySelector("img");
    if (cam.snapshot_url) {
      if (!img) {
        box.querySelector(".none")?.remove();
        img = el("img", { alt: `${cam.name || cam.id}: live picture` });
        box.prepend(img);
      }
      if (img.getAttribute("src") !== cam.snapshot_url) img.setAttribute("src", cam.snapshot_url);
    } else {
      img?.remove();
      if (!box.querySelector(".none")) box.prepend(el("div", { class: "none" }, "no picture yet"));
    }
    box.querySelector("svg")?.remove();
    box.append(overlay(cam));
  }

  function badge(cam) {
    return el("span", { class: `st-badge ${cam.status}`, dataset: { status: cam.status } }, cam.status);
  }

  function fps(cam) { return cam.fps === null || cam.fps === undefined ? "– fps" : `${Number(cam.fps).toFixed(1)} fps`; }

  return { picture, render, badge, fps };
})();
