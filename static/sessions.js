// Sessions page: running sessions follow the live state (energy so far and duration), so the
// list and its total agree with the tiles without a reload. Finished ones never change.
"use strict";
(() => {
  const { energy } = window.ampshare;
  const rows = () => document.querySelectorAll("#sessions tr.running[data-evse]");
  if (!rows().length) return;
  const set = (el, text) => {
    if (el && el.textContent !== text) el.textContent = text;
  };
  function hoursMinutes(ms) {
    const minutes = Math.max(0, Math.floor(ms / 60000));
    return `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")} h`;
  }
  const source = new EventSource("/api/events");
  source.onmessage = (ev) => {
    let state;
    try {
      state = JSON.parse(ev.data);
    } catch {
      return;
    }
    const live = new Map((state.evses || []).map((e) => [e.id, e]));
    rows().forEach((row) => {
      const e = live.get(row.dataset.evse);
      const cell = row.querySelector('[data-k="energy"]');
      if (e && ["connected", "charging", "paused"].includes(e.status) && e.session_wh != null) {
        set(cell, energy(e.session_wh));
        cell.dataset.wh = e.session_wh;
      }
      set(row.querySelector('[data-k="duration"]'), hoursMinutes(Date.now() - Date.parse(row.dataset.start)));
    });
    let total = 0;
    document.querySelectorAll('#sessions [data-wh]').forEach((c) => (total += Number(c.dataset.wh) || 0));
    set(document.getElementById("sessions-total"), energy(total));
  };
  window.addEventListener("pagehide", () => source.close());
})();
