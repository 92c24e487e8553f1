// The exhibition site: precomputed images swapped as a slider moves. No network: data.js and the images are local files.
(function () {
  "use strict";
  const site = window.THISINEQ_SITE;
  const page = document.body.dataset.page;
  const params = new URLSearchParams(window.location.search);
  const zero = site.steps.indexOf(0);
  const IDLE_MS = 20000;
  const TICK_MS = 700;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    });
    (children || []).forEach((child) => node.appendChild(child));
    return node;
  }

  function stepLabel(step) {
    return step === 0 ? "0" : (step > 0 ? "+" : "") + step.toFixed(1) + "σ";
  }

  if (site.synthetic) {
    document.querySelectorAll("#synthetic, #synthetic-note").forEach((node) => { node.hidden = false; });
  }

  // One street: its image, one slider per domain (one domain walked at a time), the band and its reason.
  function viewer(container, streetIndex, onTouch) {
    const street = site.streets[streetIndex];
    const image = el("img", { alt: street.label, id: "street-image" });
    const badge = el("span", { class: "badge", id: "band" });
    const reason = el("div", { class: "reason", id: "reason" });
    const sliders = {};
    const controls = el("div", { class: "controls" }, [el("h2", { text: street.label })]);
    site.domains.forEach((domain) => {
      const slider = el("input", { type: "range", min: "0", max: String(site.steps.length - 1), step: "1", value: String(zero), id: "slider-" + domain.key, "aria-label": domain.label });
      slider.addEventListener("input", () => { show(domain.key, Number(slider.value)); if (onTouch) onTouch(); });
      sliders[domain.key] = slider;
      controls.appendChild(el("label", { for: slider.id, text: domain.label }));
      controls.appendChild(slider);
      controls.appendChild(el("div", { class: "ends" }, [el("span", { text: "deprived" }), el("span", { text: "privileged" })]));
    });
    controls.appendChild(badge);
    controls.appendChild(reason);
    if (site.synthetic) controls.appendChild(el("div", { class: "synthetic", text: "Synthetic data: a generated city, not a real place." }));
    container.replaceChildren(el("div", { class: "viewer" }, [image, controls]));
    Object.values(street.walks).forEach((walk) => walk.images.forEach((src) => { new Image().src = src; })); // preload

    function show(domainKey, index) {
      Object.entries(sliders).forEach(([key, slider]) => { if (key !== domainKey) slider.value = String(zero); });
      sliders[domainKey].value = String(index);
      const walk = street.walks[domainKey];
      image.src = walk.images[index];
      image.dataset.step = stepLabel(site.steps[index]);
      const band = walk.bands[index];
      badge.hidden = !band;
      badge.className = "badge " + band;
      badge.textContent = band;
      reason.textContent = walk.reasons[index] || "";
    }
    show(site.domains[0].key, zero);
    return { show, street };
  }

  function streetsPage() {
    const content = document.getElementById("content");
    const chosen = params.get("street");
    if (chosen !== null && site.streets[Number(chosen)]) {
      viewer(content, Number(chosen));
      return;
    }
    const first = site.domains[0].key;
    content.replaceChildren(
      el("p", { text: "Choose a street. Each was walked along the model's deprivation boundaries, one domain at a time (" + site.method + " codes)." }),
      el("div", { class: "streets" }, site.streets.map((street, i) =>
        el("a", { href: "index.html?street=" + i }, [el("img", { src: street.walks[first].images[zero], alt: street.label, loading: "lazy" }), el("span", { text: street.label })])))
    );
  }

  function kioskPage() {
    const content = document.getElementById("content");
    let streetIndex = 0;
    let touched = Date.now();
    let tick = 0;
    let current = viewer(content, streetIndex, () => { touched = Date.now(); tick = 0; });
    // A drift walks each domain 0 → right → left → 0, then the next street; it never shows an unsupported image.
    const path = [];
    for (let i = zero; i < site.steps.length; i++) path.push(i);
    for (let i = site.steps.length - 1; i >= 0; i--) path.push(i);
    for (let i = 0; i <= zero; i++) path.push(i);
    window.setInterval(() => {
      if (Date.now() - touched < IDLE_MS) return;
      const domainIndex = Math.floor(tick / path.length);
      if (domainIndex >= site.domains.length) {
        tick = 0;
        streetIndex = (streetIndex + 1) % site.streets.length;
        current = viewer(content, streetIndex, () => { touched = Date.now(); tick = 0; });
        return;
      }
      const key = site.domains[domainIndex].key;
      const index = path[tick % path.length];
      tick += 1;
      if (current.street.walks[key].bands[index] === "unsupported") return; // hold the last supported image
      current.show(key, index);
    }, TICK_MS);
  }

  function aboutPage() {
    document.getElementById("made").textContent =
      site.streets.length + " streets from the artifact set " + site.set + ", walked along the " + site.method +
      " boundaries of " + site.domains.map((d) => d.label).join(", ") + " in steps of the generator's own spread (σ) from " +
      stepLabel(site.steps[0]) + " to " + stepLabel(site.steps[site.steps.length - 1]) + ".";
  }

  ({ streets: streetsPage, kiosk: kioskPage, about: aboutPage })[page]();
})();
