// Users page: "Add card" opens the teach-in window and shows its countdown and result.
"use strict";
(() => {
  const { api, toast, t } = window.ampshare;
  const box = document.querySelector("[data-teach-status]");
  let timer = 0;
  const fill = (text, values) =>
    Object.entries(values).reduce((s, [k, v]) => s.replace(`{${k}}`, v ?? ""), t(text));

  function show(st) {
    if (!box || !st || !st.user) return;
    box.hidden = false;
    box.dataset.result = st.result;
    if (st.result === "waiting") {
      box.textContent = fill("Hold the new card to any wallbox: {s} s left", { s: st.remaining_s });
    } else if (st.result === "assigned") {
      box.textContent = fill("Card {tag} added at {box}.", { tag: st.tag, box: st.box });
    } else if (st.result === "timeout") {
      box.textContent = t("No card was presented within 60 s.");
    } else {
      box.textContent = t("Teach-in cancelled.");
    }
  }

  async function poll() {
    clearTimeout(timer);
    const res = await api("GET", "/api/teach-in");
    if (!res.ok) return;
    show(res.data);
    if (res.data.result === "waiting") timer = setTimeout(poll, 1000);
    else if (res.data.result === "assigned" && box?.dataset.shown !== res.data.tag) {
      box.dataset.shown = res.data.tag;
      toast(box.textContent);
      setTimeout(() => location.reload(), 1500);
    }
  }

  document.addEventListener("click", async (ev) => {
    const btn = ev.target.closest("[data-teach]");
    if (!btn) return;
    ev.preventDefault();
    const res = await api("POST", "/api/teach-in", { user: btn.dataset.teach });
    if (res.ok) poll();
    else toast(res.data?.errors?.map((e) => e.message).join("; ") || t("Something went wrong."), true);
  });

  if (box && !box.hidden) poll();
})();
