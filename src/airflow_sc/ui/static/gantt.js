// airflow-sc UI: the Gantt follows its run. It listens to the DAG page's event stream for
// that run and, when a "grid" event says states changed, reads the bars again.
"use strict";

(function () {
  const section = document.getElementById("gantt");
  if (!section || !window.EventSource) return;
  const status = document.getElementById("live-status");
  let reading = null;
  let again = false;

  async function refresh() {
    if (reading) { again = true; return; }
    reading = fetch(section.dataset.bars, { credentials: "same-origin" });
    try {
      const answer = await reading;
      if (answer.ok) {
        const html = await answer.text();
        const doc = new DOMParser().parseFromString(html, "text/html");
        const fresh = doc.getElementById("gantt-bars");
        const old = document.getElementById("gantt-bars");
        if (fresh && old) old.replaceWith(document.importNode(fresh, true));
      }
    } finally {
      reading = null;
      if (again) { again = false; refresh(); }
    }
  }

  const source = new EventSource(section.dataset.events);
  source.addEventListener("open", () => { if (status) status.textContent = "connecting"; });
  source.addEventListener("error", () => { if (status) status.textContent = "reconnecting"; });
  source.addEventListener("grid", (event) => {
    const change = JSON.parse(event.data);
    if (status) status.textContent = "live";
    const shown = document.getElementById("gantt-run-state");
    for (const [, state] of change.runs || []) {
      if (shown && state) {
        shown.textContent = state;
        shown.className = "state-label state-" + state;
      }
    }
    refresh();
  });
  window.addEventListener("pagehide", () => source.close());
})();
