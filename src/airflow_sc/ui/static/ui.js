// airflow-sc UI: the little JavaScript the pages use. No framework, no build step.
// The pages work without it; it makes the DAG page's Grid live.
"use strict";

(function () {
  const STATE_PREFIX = "state-";

  function setState(element, state) {
    for (const name of Array.from(element.classList)) {
      if (name.startsWith(STATE_PREFIX)) element.classList.remove(name);
    }
    element.classList.add(STATE_PREFIX + state);
    element.dataset.state = state;
  }

  function cellsByKey(grid) {
    const cells = new Map();
    for (const cell of grid.querySelectorAll("a.cell")) {
      cells.set(cell.dataset.run + "\u0000" + cell.dataset.task, cell);
    }
    return cells;
  }

  function runBars(grid) {
    const bars = new Map();
    for (const head of grid.querySelectorAll("th.run")) {
      bars.set(head.dataset.run, head.querySelector(".bar"));
    }
    return bars;
  }

  async function refetchGrid(grid) {
    const response = await fetch(grid.dataset.fragment, { credentials: "same-origin" });
    if (!response.ok) return grid;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.getElementById("grid");
    if (!fresh) return grid;
    grid.replaceWith(fresh);
    return fresh;
  }

  function followGrid() {
    let grid = document.getElementById("grid");
    const status = document.getElementById("live-status");
    if (!grid || !window.EventSource) return;
    const source = new EventSource(grid.dataset.events);
    // "live" once the first event (the whole Grid, read after the server subscribed) came.
    source.addEventListener("open", () => { if (status) status.textContent = "connecting"; });
    source.addEventListener("error", () => { if (status) status.textContent = "reconnecting"; });
    let pending = Promise.resolve();
    source.addEventListener("grid", (event) => {
      const change = JSON.parse(event.data);
      if (status) status.textContent = "live";
      pending = pending.then(async () => {
        const shown = runBars(grid);
        const named = change.runs.map((r) => r[0]).concat(change.cells.map((c) => c[0]));
        if (change.new_runs || named.some((run) => !shown.has(run))) {
          grid = await refetchGrid(grid);
        }
        const cells = cellsByKey(grid);
        for (const [run, task, state] of change.cells) {
          const cell = cells.get(run + "\u0000" + task);
          if (cell) {
            setState(cell, state);
            cell.title = task + " · " + run + ": " + state;
          }
        }
        const bars = runBars(grid);
        for (const [run, state] of change.runs) {
          const bar = bars.get(run);
          if (bar) setState(bar, state);
        }
      });
    });
    window.addEventListener("pagehide", () => source.close());
  }

  document.addEventListener("DOMContentLoaded", followGrid);
})();
