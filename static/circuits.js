// Sub-board tiles: each snapshot's circuit loads against their fuses, and the boxes under them.
// A phase at its limit is the allocator doing its job (amber, like a phase near it); only more
// than 0.5 A above it is alarm-red.
"use strict";
(() => {
  const { num } = window.ampshare;
  const TOLERANCE_A = 0.5;

  function loadClass(v, lim) {
    if (typeof v !== "number" || !lim) return "";
    if (v > lim + TOLERANCE_A) return "over";
    return v >= 0.8 * lim ? "hi" : "";
  }

  function applyCircuit(tile, c, names) {
    const lim = c.max_current_a || 0;
    for (let p = 0; p < 3; p++) {
      const v = c.load_a?.[p];
      const bar = tile.querySelector(`[data-k="bar${p}"]`);
      const pct = lim && typeof v === "number" ? Math.max(0, Math.min(100, (100 * v) / lim)) : 0;
      const w = pct.toFixed(1) + "%";
      if (bar.style.width !== w) bar.style.width = w;
      const cls = "fill " + loadClass(v, lim);
      if (bar.className !== cls.trim()) bar.className = cls.trim();
      const text = `${num(v)} / ${num(lim, 0)} A`;
      const val = tile.querySelector(`[data-k="a${p}"]`);
      if (val.textContent !== text) val.textContent = text;
    }
    const list = tile.querySelector('[data-k="names"]');
    const text = names.join(", ") || "—";
    if (list.textContent !== text) list.textContent = text;
  }

  document.addEventListener("ampshare:state", (ev) => {
    const state = ev.detail;
    const tiles = document.querySelectorAll("[data-circuit]");
    if (!tiles.length) return;
    const byId = new Map((state.circuits || []).map((c) => [c.id, c]));
    tiles.forEach((tile) => {
      const c = byId.get(tile.dataset.circuit);
      if (!c) return; // removed: gone at the next page load
      const names = (state.evses || []).filter((e) => e.circuit === c.id).map((e) => e.name);
      applyCircuit(tile, c, names);
    });
  });
})();
