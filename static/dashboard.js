// Live dashboard: applies each SSE state snapshot to the tiles in place (text and bar widths
// only, no re-render), adds and removes tiles as devices come and go, and reconnects.
"use strict";
(() => {
  const A = window.ampshare;
  const { t, num, power, energy } = A;
  const tiles = document.getElementById("tiles");
  const chartTile = document.getElementById("chart");
  const live = document.getElementById("live");
  const pending = new Map(); // evse id -> wanted enabled state while a PATCH is in flight
  const modePending = new Map(); // evse id -> wanted charging mode while a PATCH is in flight

  const set = (el, text) => {
    if (el && el.textContent !== text) el.textContent = text;
  };
  const show = (el, text) => {
    if (!el) return;
    set(el, text || "");
    el.hidden = !text;
  };
  const attr = (el, name, value) => {
    if (el && el.getAttribute(name) !== value) el.setAttribute(name, value);
  };
  const width = (el, value, scale) => {
    if (!el) return;
    const v = Number(value);
    const pct = !scale || !Number.isFinite(v) ? 0 : Math.max(0, Math.min(100, (100 * Math.abs(v)) / scale));
    const w = pct.toFixed(1) + "%";
    if (el.style.width !== w) el.style.width = w;
    el.classList.toggle("neg", v < 0);
    return pct;
  };
  const k = (tile, key) => tile.querySelector(`[data-k="${key}"]`);
  const statusWord = (s) => t(String(s || "offline").replace("_", " "));

  function phaseBars(tile, values, scale, limits) {
    for (let p = 0; p < 3; p++) {
      const v = values?.[p];
      const lim = limits?.[p] || scale;
      const pct = width(k(tile, "bar" + p), v, lim);
      if (limits) {
        const bar = k(tile, "bar" + p);
        // at its limit is the allocator doing its job; only above it is an alarm
        const over = Number(v) > Number(lim) + 0.5;
        bar.classList.toggle("hi", pct >= 80 && !over);
        bar.classList.toggle("over", over);
        set(k(tile, "a" + p), `${num(v)} / ${num(limits[p], 0)} A`);
      } else set(k(tile, "a" + p), `${num(v)} A`);
    }
  }

  function figure(tile, key, watts) {
    const [n, u] = power(watts);
    set(k(tile, key), n);
    set(k(tile, key + "-u"), u);
  }

  function siteScale(site) {
    const lims = (site?.limit_a || []).filter((x) => typeof x === "number");
    return lims.length ? Math.max(...lims) : 32;
  }

  function applySite(site) {
    const tile = document.getElementById("site");
    if (!tile || !site) return;
    attr(tile, "data-status", site.safe_mode ? "error" : "charging");
    const safe = k(tile, "safe");
    safe.hidden = !site.safe_mode;
    document.getElementById("safe-banner").hidden = !site.safe_mode;
    // reasons arrive worded in the page language (`text`), names as the user typed them
    const why = site.safe_reason?.text;
    set(k(tile, "safe-reason"), why ? `${t("Safe mode")}: ${why}` : t("Safe mode"));
    // an external limit (grid operator, EMS): its banner, worded by the server
    const limit = site.charging_limit?.text;
    const banner = document.getElementById("limit-banner");
    if (banner) {
      banner.hidden = !limit;
      set(banner.querySelector("span"), limit || "");
    }
    phaseBars(tile, site.grid_a, siteScale(site), site.limit_a || [32, 32, 32]);
    const gw = site.grid_w;
    figure(tile, "grid", gw === null || gw === undefined ? null : Math.abs(gw));
    set(k(tile, "grid-l"), (gw || 0) < 0 ? t("Export") : t("Import"));
    figure(tile, "pv", site.pv_w);
    set(k(tile, "reserve"), num(site.reserve_a));
    figure(tile, "surplus", typeof site.surplus_w === "number" ? Math.max(0, site.surplus_w) : site.surplus_w); // short is 0, not minus
    figure(tile, "solar", site.solar_charge_w);
  }

  function applyEvse(tile, e) {
    attr(tile, "data-status", e.status || "offline");
    set(k(tile, "name"), e.name);
    attr(k(tile, "gear"), "href", "/devices/" + encodeURIComponent(e.id));
    attr(k(tile, "why"), "href", "/decisions#tl-" + encodeURIComponent(e.id));
    set(k(tile, "status"), statusWord(e.status));
    const sw = k(tile, "enabled");
    if (pending.has(e.id)) {
      if (pending.get(e.id) === !!e.enabled) pending.delete(e.id);
    } else if (sw.checked !== !!e.enabled) sw.checked = !!e.enabled;
    figure(tile, "power", e.power_w);
    phaseBars(tile, e.current_a, e.max_current_a || 16);
    set(k(tile, "setpoint"), `${num(e.setpoint_a)} A`);
    set(k(tile, "session"), energy(e.session_wh));
    set(k(tile, "user"), e.user || "—");
    set(k(tile, "phases"), String(e.phases_active || e.phases || ""));
    show(k(tile, "countdown"), countdown(e));
    if (!modePending.has(e.id)) {
      tile.querySelectorAll("[data-mode]").forEach((b) => attr(b, "aria-pressed", String(b.dataset.mode === e.charge_mode)));
    } else if (modePending.get(e.id) === e.charge_mode) modePending.delete(e.id);
    // the reason in words, unless it only repeats the status ("no car", "disabled")
    const code = e.reason?.code;
    const repeats = code === e.status && (code === "no_car" || code === "disabled");
    show(k(tile, "reason"), repeats ? "" : e.reason?.text);
    show(k(tile, "rule"), e.rule?.text);
    show(k(tile, "plan"), e.plan?.text);
    show(k(tile, "detail"), e.detail?.text);
    show(k(tile, "deactivation"), e.deactivation?.text);
    const [gw, warn] = gatewayLines(e.gateway);
    show(k(tile, "gateway"), gw);
    show(k(tile, "gateway-warn"), warn);
  }

  // a solar start or pause, or a 1p/3p switch, counting down (the same words as web/mode_words.py)
  function countdown(e) {
    const fill = (s, v) => t(s).replace("{s}", Math.round(v));
    if (e.pv_start_in_s != null) return fill("starts in {s} s", e.pv_start_in_s);
    if (e.pv_stop_in_s != null) return fill("pauses in {s} s", e.pv_stop_in_s);
    if (e.phase_switch_in_s != null) {
      return e.phase_switch_in_s <= 0 ? t("1p/3p switch now") : fill("1p/3p switch in {s} s", e.phase_switch_in_s);
    }
    return "";
  }

  // the gateway to a billing backend in words (the same words as web/gateway_words.py)
  function gatewayLines(g) {
    if (!g) return ["", ""];
    const fill = (s, key, v) => s.replace(`{${key}}`, v);
    let line;
    if (g.connected && g.since) {
      const time = new Date(g.since * 1000).toTimeString().slice(0, 5);
      line = fill(t("connected since {time}"), "time", time);
    } else {
      line = t("not connected");
      if (g.error) {
        const known = t("gw:" + g.error);
        const text = known !== "gw:" + g.error ? known
          : g.error.startsWith("http_") ? fill(t("backend answered HTTP {code}"), "code", g.error.slice(5))
          : t("gw:other");
        line += " — " + text;
      }
    }
    if (g.queued) line += " · " + fill(t("{n} queued"), "n", g.queued);
    return [`${t("Billing backend")}: ${line}`, g.insecure ? t("certificate is not checked") : ""];
  }

  function applyMeter(tile, m, scale) {
    attr(tile, "data-status", m.online ? "connected" : "offline");
    set(k(tile, "name"), m.name);
    attr(k(tile, "gear"), "href", "/devices/" + encodeURIComponent(m.id));
    set(k(tile, "status"), `${t("role." + (m.role || "grid"))} · ${m.online ? t("online") : t("offline")}`);
    figure(tile, "power", m.power_w);
    phaseBars(tile, m.current_a, scale);
    set(k(tile, "energy"), energy(m.energy_wh));
    show(k(tile, "error"), m.error);
  }

  function applyCp(tile, c) {
    set(k(tile, "id"), c.id);
    set(k(tile, "model"), `${c.vendor || ""} ${c.model || ""}`.trim() || "—");
    set(k(tile, "conn"), c.connected ? t("online") : t("offline"));
    const link = k(tile, "station");
    if (link) link.href = `/stations/${encodeURIComponent(c.id)}`;
    const clear = k(tile, "clear-stale");
    if (clear) clear.disabled = !c.connected;
  }

  // Keep one tile per item, in snapshot order, just before `anchor()`; clone new ones from
  // the blank template. Tiles already in place are not moved, so nothing re-renders.
  function sync(kind, items, anchor, apply) {
    const existing = new Map();
    tiles.querySelectorAll(`[data-${kind}]`).forEach((el) => existing.set(el.dataset[kind], el));
    const tpl = document.getElementById("tpl-" + kind);
    const ordered = items.map((item) => {
      let tile = existing.get(item.id);
      if (tile) existing.delete(item.id);
      else {
        tile = tpl.content.firstElementChild.cloneNode(true);
        tile.dataset[kind] = item.id;
      }
      apply(tile, item);
      return tile;
    });
    existing.forEach((el) => el.remove());
    let ref = anchor();
    for (let i = ordered.length - 1; i >= 0; i--) {
      const tile = ordered[i];
      if (!tile.isConnected || tile.nextElementSibling !== ref) tiles.insertBefore(tile, ref);
      ref = tile;
    }
  }

  function apply(state) {
    if (!state || !state.site) return;
    applySite(state.site);
    const scale = siteScale(state.site);
    const firstOf = (sel) => () => tiles.querySelector(sel) || chartTile;
    sync("evse", state.evses || [], firstOf("[data-cp], [data-meter]"), applyEvse);
    const fresh = (state.charge_points || []).filter((c) => !c.configured);
    sync("cp", fresh, firstOf("[data-meter]"), applyCp);
    sync("meter", state.meters || [], () => chartTile, (tile, m) => applyMeter(tile, m, scale));
    // other tiles (sub-boards: circuits.js) take the same snapshot
    document.dispatchEvent(new CustomEvent("ampshare:state", { detail: state }));
  }

  // -- actions -----------------------------------------------------------------------------
  tiles.addEventListener("change", async (ev) => {
    const sw = ev.target;
    if (!(sw instanceof HTMLInputElement) || sw.dataset.k !== "enabled") return;
    const tile = sw.closest("[data-evse]");
    const id = tile.dataset.evse;
    const wanted = sw.checked;
    pending.set(id, wanted);
    sw.disabled = true;
    try {
      const res = await A.api("PATCH", "/api/devices/" + encodeURIComponent(id), { enabled: wanted });
      if (!res.ok) {
        pending.delete(id);
        sw.checked = !wanted;
        const msg = res.data?.errors?.map((e) => `${e.field}: ${e.message}`).join("; ");
        A.toast(msg || res.data?.error || t("Something went wrong."), true);
      } else A.toast(t("Saved."));
    } catch {
      pending.delete(id);
      sw.checked = !wanted;
    } finally {
      sw.disabled = false;
      setTimeout(() => pending.delete(id), 5000);
    }
  });

  // the mode switch: one tap stores the box's charging mode
  async function setMode(button) {
    const tile = button.closest("[data-evse]");
    const id = tile.dataset.evse;
    const mode = button.dataset.mode;
    const buttons = tile.querySelectorAll("[data-mode]");
    const before = [...buttons].find((b) => b.getAttribute("aria-pressed") === "true");
    modePending.set(id, mode);
    buttons.forEach((b) => attr(b, "aria-pressed", String(b === button)));
    const res = await A.api("PATCH", "/api/devices/" + encodeURIComponent(id), { charge_mode: mode });
    if (!res.ok) {
      modePending.delete(id);
      buttons.forEach((b) => attr(b, "aria-pressed", String(b === before)));
      const msg = res.data?.errors?.map((e) => `${e.field}: ${e.message}`).join("; ");
      A.toast(msg || res.data?.error || t("Something went wrong."), true);
    } else A.toast(t("Saved."));
    setTimeout(() => modePending.delete(id), 5000);
  }

  tiles.addEventListener("click", async (ev) => {
    const modeButton = ev.target.closest("[data-mode]");
    if (modeButton) {
      await setMode(modeButton);
      return;
    }
    const clear = ev.target.closest('[data-k="clear-stale"]');
    if (clear) {
      // every charging profile on the box, foreign and stale ones included (cFos-style reset)
      const cb = clear.closest("[data-cp]").dataset.cp;
      clear.disabled = true;
      const res = await A.api("POST", `/api/stations/${encodeURIComponent(cb)}/clear_profiles`, {});
      clear.disabled = false;
      A.toast(res.ok ? `${t("Clear stale profiles")}: ${res.data.status}` : res.data?.error || t("Something went wrong."), !res.ok || res.data.status !== "Accepted");
      return;
    }
    const btn = ev.target.closest('[data-k="add"]');
    if (!btn) return;
    const tile = btn.closest("[data-cp]");
    const id = tile.dataset.cp;
    const model = k(tile, "model").textContent;
    btn.disabled = true;
    const body = { kind: "evse", driver: "ocpp", name: (model && model !== "—" ? `${id} · ${model}` : id).slice(0, 64), address: id };
    const res = await A.api("POST", "/api/devices", body);
    if (res.ok) {
      A.toast(t("Added."));
      tile.remove();
    } else {
      btn.disabled = false;
      const msg = res.data?.errors?.map((e) => `${e.field}: ${e.message}`).join("; ");
      A.toast(msg || res.data?.error || t("Something went wrong."), true);
    }
  });

  // -- live connection -----------------------------------------------------------------------
  let source = null;
  let retry = 1000;
  // how long applying updates takes, for the benchmark and for diagnosing slow devices
  const stats = { updates: 0, totalMs: 0, maxMs: 0, firstAt: null };
  function status(ok) {
    live.classList.toggle("on", ok);
    live.classList.toggle("off", !ok);
    live.textContent = ok ? t("Live") : t("Connection lost — reconnecting…");
  }

  function connect() {
    source = new EventSource("/api/events");
    source.onmessage = (ev) => {
      retry = 1000;
      status(true);
      const t0 = performance.now();
      try {
        apply(JSON.parse(ev.data));
      } catch (err) {
        console.error("bad state", err);
      }
      const ms = performance.now() - t0;
      stats.updates += 1;
      stats.totalMs += ms;
      stats.maxMs = Math.max(stats.maxMs, ms);
      stats.firstAt ??= performance.now();
    };
    source.onerror = () => {
      status(false);
      if (source.readyState === EventSource.CLOSED) {
        // the server refused (restart with a new login, or an error): check, then retry
        source.close();
        setTimeout(async () => {
          try {
            await A.api("GET", "/api/state");
          } catch {
            /* offline or login page: api() redirects when needed */
          }
          connect();
        }, retry);
        retry = Math.min(retry * 2, 15000);
      }
    };
  }

  async function refreshChart() {
    try {
      const res = await fetch("/fragments/chart", { credentials: "same-origin" });
      if (res.ok) chartTile.querySelector("[data-chart]").innerHTML = await res.text();
    } catch {
      /* next time */
    }
  }

  connect();
  setInterval(refreshChart, 60000);
  window.addEventListener("pagehide", () => source?.close());
  window.ampshare.applyState = apply;
  window.ampshare.stats = stats;
})();
