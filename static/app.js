// ampshare page script: JSON forms with field errors, delete/test buttons, toasts.
// Every change goes to the JSON API with the page's CSRF token in X-CSRF-Token.
"use strict";
(() => {
  const strings = JSON.parse(document.getElementById("strings")?.textContent || "{}");
  const t = (s) => strings[s] || s;
  const lang = document.documentElement.lang || "en";
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  async function api(method, url, body) {
    const opts = {
      method,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), Accept: "application/json" },
    };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(url, opts);
    if (res.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname);
      throw new Error("login required");
    }
    let data = null;
    if ((res.headers.get("content-type") || "").includes("json")) data = await res.json();
    return { ok: res.ok, status: res.status, data };
  }

  let toastTimer = 0;
  function toast(message, bad) {
    let el = document.getElementById("toast");
    if (!el) {
      el = document.createElement("div");
      el.id = "toast";
      el.setAttribute("role", "status");
      document.body.appendChild(el);
    }
    el.className = "toast" + (bad ? " bad" : "");
    el.textContent = message;
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (el.hidden = true), bad ? 6000 : 2500);
  }

  const formats = {};
  function num(x, digits = 1) {
    if (x === null || x === undefined || Number.isNaN(Number(x))) return "—";
    const key = digits;
    formats[key] ||= new Intl.NumberFormat(lang === "de" ? "de-DE" : "en-US", {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
    const text = formats[key].format(Number(x));
    return /^-0([.,]0*)?$/.test(text) ? text.slice(1) : text;
  }
  function power(w) {
    if (w === null || w === undefined) return ["—", "kW"];
    return Math.abs(w) >= 1000 ? [num(w / 1000, 1), "kW"] : [num(w, 0), "W"];
  }
  function energy(wh) {
    if (wh === null || wh === undefined) return "—";
    return num(wh / 1000, Math.abs(wh) < 100000 ? 2 : 1) + " kWh";
  }

  // -- forms -----------------------------------------------------------------------------
  function setPath(obj, path, value) {
    const parts = path.split(".");
    let o = obj;
    for (const p of parts.slice(0, -1)) o = o[p] ||= {};
    o[parts[parts.length - 1]] = value;
  }

  function collect(form) {
    const out = {};
    for (const el of form.querySelectorAll("[data-field]")) {
      const name = el.dataset.field;
      const type = el.dataset.type || "string";
      const nullable = el.dataset.nullable === "1";
      let v;
      if (el.type === "checkbox") v = el.checked;
      else if (type === "multi") v = Array.from(el.selectedOptions, (o) => o.value);
      else if (type === "list") v = el.value.split(/[\s,;]+/).filter(Boolean);
      else if (el.dataset.secret === "1") {
        const clear = form.querySelector(`[data-clear="${CSS.escape(name)}"]`);
        if (clear?.checked) v = null;
        else if (!el.value) continue; // write-only: empty keeps the stored secret
        else v = el.value;
      } else {
        const raw = el.type === "password" ? el.value : el.value.trim();
        if (raw === "") {
          if (nullable) v = null;
          else if (type === "string" || el.dataset.sendEmpty) v = "";
          else v = raw; // the server names the field
        } else if (type === "integer" || type === "number") {
          const n = Number(raw.replace(",", "."));
          v = Number.isFinite(n) && /^[-+]?[\d.,eE+-]+$/.test(raw) ? n : raw;
        } else if (type === "boolean") v = raw === "true";
        else if (type === "json") {
          try {
            v = JSON.parse(raw);
          } catch {
            v = raw; // the server names the field
          }
        }
        else v = raw;
      }
      setPath(out, name, v);
    }
    return out;
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-error-for]").forEach((el) => (el.textContent = ""));
    form.querySelectorAll(".field.invalid").forEach((el) => el.classList.remove("invalid"));
    const box = form.querySelector(".form-error");
    if (box) box.textContent = "";
  }

  function showErrors(form, errors) {
    const box = form.querySelector(".form-error");
    const loose = [];
    for (const e of errors || []) {
      const field = String(e.field || "");
      // the server may name "site.max_current_a" or just "max_current_a"
      let target = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
      if (!target) {
        for (const el of form.querySelectorAll("[data-error-for]")) {
          const name = el.dataset.errorFor;
          const within = field.startsWith(name + "."); // "tags.1" belongs to "tags"
          if (within || name.endsWith("." + field) || field.endsWith("." + name)) {
            target = el;
            break;
          }
        }
      }
      if (target) {
        target.textContent = e.message;
        target.closest(".field")?.classList.add("invalid");
      } else loose.push(`${field}: ${e.message}`);
    }
    if (box) box.textContent = loose.length ? loose.join("; ") : t("Please correct the marked fields.");
    const first = form.querySelector(".field.invalid input, .field.invalid select");
    first?.focus();
  }

  async function readFiles(form) {
    const out = {};
    for (const el of form.querySelectorAll("[data-file]")) {
      out[el.dataset.file] = el.files?.[0] ? await el.files[0].text() : "";
    }
    return out;
  }

  async function submit(form) {
    clearErrors(form);
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    try {
      const body = form.querySelector("[data-file]") ? await readFiles(form) : collect(form);
      const res = await api(form.dataset.method || "POST", form.dataset.api, body);
      if (res.ok) {
        if (res.data?.csrf) {
          // a new session after a password change: later calls need its token
          document.querySelector('meta[name="csrf-token"]').content = res.data.csrf;
          document.querySelectorAll('input[name="csrf_token"]').forEach((i) => (i.value = res.data.csrf));
        }
        toast(form.id === "password-form" ? t("Password changed.") : t("Saved."));
        if (form.hasAttribute("data-reset")) form.reset();
        const done = form.dataset.done;
        if (done) {
          if (location.pathname + location.hash === done) location.reload();
          else location.href = done;
        }
        return;
      }
      if (res.status === 422) showErrors(form, res.data?.errors);
      else {
        const box = form.querySelector(".form-error");
        const msg = res.data?.error || `${t("Something went wrong.")} (${res.status})`;
        if (box) box.textContent = msg;
        toast(msg, true);
      }
    } catch (err) {
      if (String(err.message) !== "login required") toast(t("Something went wrong."), true);
    } finally {
      if (button) button.disabled = false;
    }
  }

  async function testConnection(form, button) {
    clearErrors(form);
    const out = form.querySelector(".testresult");
    out.hidden = false;
    out.textContent = t("Testing…");
    button.disabled = true;
    try {
      const base = JSON.parse(form.dataset.base || "{}");
      const res = await api("POST", button.dataset.test, { ...base, ...collect(form) });
      out.textContent = "";
      if (res.status === 422) {
        showErrors(form, res.data?.errors);
        out.hidden = true;
        return;
      }
      const head = document.createElement("p");
      if (res.ok && res.data?.ok) {
        head.className = "note";
        head.textContent = t("Connection works.") + (res.data.summary ? ` ${res.data.summary}` : "");
        out.appendChild(head);
        const table = document.createElement("table");
        table.className = "list";
        for (const [k, v] of Object.entries(res.data.values || {})) {
          const tr = table.insertRow();
          tr.insertCell().textContent = k;
          tr.insertCell().textContent = Array.isArray(v)
            ? v.map((x) => (typeof x === "number" ? num(x, 2) : x ?? "—")).join(" / ")
            : typeof v === "number" ? num(v, 2) : v ?? "—";
        }
        out.appendChild(table);
      } else {
        head.className = "note warn";
        head.textContent = res.data?.error || `${t("Something went wrong.")} (${res.status})`;
        out.appendChild(head);
      }
    } finally {
      button.disabled = false;
    }
  }

  // restore: the backup file goes as the request body; the manager restarts afterwards
  async function restore(form) {
    const file = form.querySelector('input[type="file"]')?.files?.[0];
    const error = form.querySelector(".form-error");
    error.textContent = "";
    if (!file) {
      error.textContent = t("Choose a backup file first.");
      return;
    }
    if (!confirm(t("Really replace all data with this backup?"))) return;
    const res = await fetch(form.dataset.restore, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Content-Type": "application/gzip" },
      body: file,
    });
    const data = (res.headers.get("content-type") || "").includes("json") ? await res.json() : null;
    if (res.ok) {
      toast(t("Restored. The manager restarts…"));
      setTimeout(() => location.reload(), 4000);
    } else {
      const msg = data?.errors?.map((e) => e.message).join("; ") || data?.error;
      error.textContent = msg || t("Something went wrong.");
    }
  }

  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (form instanceof HTMLFormElement && form.dataset.api) {
      ev.preventDefault();
      submit(form);
    } else if (form instanceof HTMLFormElement && form.dataset.restore) {
      ev.preventDefault();
      restore(form);
    }
  });

  document.addEventListener("click", async (ev) => {
    const del = ev.target.closest("[data-delete]");
    if (del) {
      ev.preventDefault();
      if (!confirm(t("Really delete?"))) return;
      const res = await api("DELETE", del.dataset.delete);
      if (res.ok) {
        toast(t("Deleted."));
        const done = del.dataset.done || "/";
        if (location.pathname + location.hash === done) location.reload();
        else location.href = done;
      } else {
        const msg = res.data?.errors?.map((e) => e.message).join("; ") || res.data?.error;
        toast(msg || t("Something went wrong."), true);
      }
      return;
    }
    const test = ev.target.closest("[data-test]");
    if (test) testConnection(test.closest("form"), test);
  });

  document.addEventListener("change", (ev) => {
    const el = ev.target;
    if (el.matches?.("select[data-autosubmit]")) {
      if (el.dataset.reset) {
        const other = document.getElementById(el.dataset.reset);
        if (other) other.disabled = true; // let the server pick the first driver of the kind
      }
      el.form.submit();
    }
  });

  window.ampshare = { api, toast, t, num, power, energy };
})();
