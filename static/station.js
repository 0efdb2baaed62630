// Station page: sends admin actions to /api/stations/{id}/{action} and shows the box's answer;
// loads the profile chart and the configuration table as server-drawn fragments.
"use strict";
(() => {
  const A = window.ampshare;
  const root = document.getElementById("station");
  if (!root) return;
  const cb = root.dataset.cb;
  const base = `/api/stations/${encodeURIComponent(cb)}`;
  const page = `/stations/${encodeURIComponent(cb)}`;

  async function fragment(path, target) {
    const res = await fetch(page + path, { credentials: "same-origin" });
    target.innerHTML = await res.text();
  }
  const profiles = document.getElementById("profiles");
  const config = document.getElementById("configuration");
  const loadProfiles = () => fragment("/profiles", profiles);

  async function act(action, body) {
    const res = await A.api("POST", `${base}/${action}`, body);
    if (res.status === 422) return { text: res.data.errors.map((e) => `${e.field}: ${e.message}`).join("\n"), bad: true };
    if (!res.ok) return { text: res.data?.error || A.t("Something went wrong."), bad: true };
    return { text: `${res.data.status}\n${JSON.stringify(res.data.payload, null, 2)}`, status: res.data.status };
  }

  function values(form) {
    const body = {};
    form.querySelectorAll("[name]").forEach((el) => {
      const v = el.value.trim();
      if (v === "") return;
      const kind = el.dataset.kind;
      body[el.name] = kind === "int" ? Number(v) : kind === "bool" ? v === "true" : v;
    });
    return body;
  }

  root.addEventListener("submit", async (ev) => {
    const form = ev.target.closest("form.station-action");
    if (!form) return;
    ev.preventDefault();
    const out = form.querySelector('[data-k="answer"]');
    const btn = form.querySelector("button");
    btn.disabled = true;
    const got = await act(form.dataset.action, values(form));
    btn.disabled = false;
    out.hidden = false;
    out.textContent = got.text;
    out.classList.toggle("bad", !!got.bad);
    if (form.dataset.action === "clear_profiles") loadProfiles();
  });

  root.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("button[data-k]");
    if (!btn) return;
    const k = btn.dataset.k;
    if (k === "reload-profiles") loadProfiles();
    if (k === "load-config") fragment("/configuration", config);
    if (k === "clear-all") {
      btn.disabled = true;
      const got = await act("clear_profiles", {});
      btn.disabled = false;
      A.toast(got.status || got.text, !!got.bad);
      loadProfiles();
    }
    if (k === "save-key") {
      const row = btn.closest("tr");
      const got = await act("configure", { key: row.dataset.key, value: row.querySelector("input").value });
      row.querySelector('[data-k="status"]').textContent = got.status || got.text;
    }
  });
  // -- firmware and logs: upload, start, and live progress ---------------------------------
  const transfers = document.getElementById("transfers");
  const setText = (k, text) => {
    const el = transfers.querySelector(`[data-k="${k}"]`);
    if (el && el.textContent !== text) el.textContent = text;
  };
  transfers.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const form = ev.target;
    const file = form.querySelector('input[type="file"]').files[0];
    if (!file) return;
    setText("firmware-status", "Uploading to ampshare…");
    const up = await fetch(`/api/firmware?name=${encodeURIComponent(file.name)}`, {
      method: "POST", credentials: "same-origin", body: file,
      headers: { "X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content, "Content-Type": "application/octet-stream" },
    });
    const stored = await up.json();
    if (!up.ok) { setText("firmware-status", stored.error || A.t("Something went wrong.")); return; }
    const body = { file_id: stored.id };
    for (const name of ["signing_certificate", "signature"]) {
      const el = form.querySelector(`[name="${name}"]`);
      if (el && el.value.trim()) body[name] = el.value.trim();
    }
    const got = await act("firmware", body);
    setText("firmware-status", got.status || got.text);
  });
  transfers.addEventListener("click", async (ev) => {
    if (!ev.target.closest('[data-k="fetch-logs"]')) return;
    const type = transfers.querySelector('[data-k="log-type"]');
    const got = await act("logs", type ? { log_type: type.value } : {});
    setText("logs-status", got.status || got.text);
  });
  async function poll() {
    if (document.hidden) return;
    const res = await fetch(base, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!res.ok) return;
    const st = await res.json();
    if (st.firmware_transfer) setText("firmware-status", st.firmware_transfer.status);
    if (st.logs_transfer) setText("logs-status", st.logs_transfer.status);
    const list = transfers.querySelector('[data-k="log-files"]');
    const ids = (st.log_files || []).map((f) => f.id).join(",");
    if (list.dataset.ids !== ids) {
      list.dataset.ids = ids;
      list.replaceChildren(...(st.log_files || []).map((f) => {
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = `/api/logs/${encodeURIComponent(f.id)}`;
        a.textContent = f.id;
        li.append(a, ` (${f.size} B)`);
        return li;
      }));
    }
  }
  setInterval(() => poll().catch(() => {}), 2000);
  loadProfiles();
})();
