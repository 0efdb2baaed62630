// Events page: new events arrive live (SSE) and are put on top when they match the filter.
"use strict";
(() => {
  const table = document.getElementById("events");
  if (!table || !window.EventSource) return;
  const body = table.tBodies[0];
  const labels = Array.from(table.tHead.rows[0].cells, (th) => th.textContent);
  const { kind, boxName } = table.dataset;
  const live = document.getElementById("events-live");
  const source = new EventSource("/api/events/live");
  source.onopen = () => (live.hidden = false);
  source.onerror = () => (live.hidden = true);
  source.onmessage = (msg) => {
    const e = JSON.parse(msg.data);
    if ((kind && e.kind !== kind) || (boxName && e.device_name !== boxName)) return;
    const tr = body.insertRow(0);
    const d = new Date(e.ts);
    const p = (n) => String(n).padStart(2, "0");
    const time = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
    const tag = document.createElement("span");
    tag.className = "kind-tag";
    tag.dataset.kind = e.kind;
    tag.textContent = e.kind_text;
    [time, tag, e.device_name, e.text].forEach((value, i) => {
      const td = tr.insertCell();
      td.dataset.label = labels[i];
      if (i === 3) td.className = "msg";
      if (value instanceof Node) td.appendChild(value);
      else td.textContent = value || "";
    });
    while (body.rows.length > 200) body.deleteRow(-1);
    document.getElementById("events-empty").hidden = true;
  };
})();
