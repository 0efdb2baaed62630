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
  loadProfiles();
})();
