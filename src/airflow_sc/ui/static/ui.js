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
    source.addEventListener("health", (event) => showHealth(JSON.parse(event.data).unhealthy));
    window.addEventListener("pagehide", () => source.close());
  }

  // -- a try's log: stream new lines while the try runs, follow, search ------------------

  function highlight(line, query) {
    // Back to plain text, then the matches wrapped in <mark> (text nodes only, no HTML).
    const text = line.textContent;
    line.textContent = text;
    if (!query) return 0;
    const lower = text.toLowerCase();
    let found = 0;
    let from = 0;
    let at = lower.indexOf(query, from);
    if (at < 0) return 0;
    line.textContent = "";
    while (at >= 0) {
      line.append(document.createTextNode(text.slice(from, at)));
      const mark = document.createElement("mark");
      mark.textContent = text.slice(at, at + query.length);
      line.append(mark);
      found += 1;
      from = at + query.length;
      at = lower.indexOf(query, from);
    }
    line.append(document.createTextNode(text.slice(from)));
    return found;
  }

  function followLog(view) {
    const pre = view.querySelector("pre.log");
    const search = view.querySelector(".log-search");
    const matches = view.querySelector(".log-matches");
    const follow = view.querySelector(".log-follow");
    const status = view.querySelector(".log-status");
    let total = 0;

    function query() { return search ? search.value.trim().toLowerCase() : ""; }

    function showCount() {
      if (matches) matches.textContent = query() ? total + " match" + (total === 1 ? "" : "es") : "";
    }

    function searchAll() {
      total = 0;
      for (const line of pre.querySelectorAll(".line")) total += highlight(line, query());
      showCount();
      const first = pre.querySelector("mark");
      if (first) first.scrollIntoView({ block: "nearest" });
    }

    if (search) search.addEventListener("input", searchAll);
    if (view.dataset.more !== "true" || !window.EventSource) return;
    const source = new EventSource(view.dataset.events);
    source.addEventListener("lines", (event) => {
      const empty = view.querySelector(".log-empty");
      if (empty) empty.remove();
      for (const text of JSON.parse(event.data)) {
        const line = document.createElement("span");
        line.className = "line";
        line.textContent = text + "\n";
        total += highlight(line, query());
        pre.append(line);
      }
      showCount();
      if (follow && follow.checked) pre.scrollTop = pre.scrollHeight;
    });
    source.addEventListener("end", () => {
      source.close();
      if (status) status.textContent = "complete";
    });
    window.addEventListener("pagehide", () => source.close());
  }

  // -- the Graph: the chosen run's task states, live ---------------------------------------

  function followGraph() {
    const graph = document.getElementById("graph");
    const status = document.getElementById("live-status");
    if (!graph || !graph.dataset.events || !window.EventSource) return;
    const nodes = new Map();
    for (const rect of graph.querySelectorAll("rect[data-task]")) nodes.set(rect.dataset.task, rect);
    const runState = document.getElementById("graph-run-state");

    function colour(rect, task, state) {
      setState(rect, state);
      const title = rect.parentNode.querySelector("title");
      if (title) title.textContent = task + ": " + state;
    }

    // Opened without a run id, the Graph shows the newest run and moves to a newer one.
    function switchRun(run) {
      graph.dataset.run = run;
      for (const [task, rect] of nodes) colour(rect, task, "none");
      for (const link of graph.querySelectorAll("a.node:not(.group-node)")) {
        const query = new URLSearchParams({ run_id: run, task_id: link.dataset.task });
        link.setAttribute("href", "/dags/" + encodeURIComponent(graph.dataset.dag) + "?" + query + "#panel");
      }
      const label = document.getElementById("graph-run");
      const id = document.getElementById("graph-run-id");
      const none = document.getElementById("graph-no-runs");
      if (label) label.hidden = false;
      if (id) id.textContent = run;
      if (none) none.remove();
      const select = document.querySelector("select[name=run_id]");
      if (select && !Array.from(select.options).some((o) => o.value === run)) {
        select.prepend(new Option(run, run));
      }
      if (select) select.value = run;
    }

    const source = new EventSource(graph.dataset.events);
    source.addEventListener("open", () => { if (status) status.textContent = "connecting"; });
    source.addEventListener("error", () => { if (status) status.textContent = "reconnecting"; });
    source.addEventListener("grid", (event) => {
      const change = JSON.parse(event.data);
      if (status) status.textContent = "live";
      if (graph.dataset.follow === "newest") {
        // That stream's Grid holds the newest run alone: a run it names is the newest.
        const named = change.runs.map((r) => r[0]).concat(change.cells.map((c) => c[0]));
        const newest = named.find((run) => run !== graph.dataset.run);
        if (newest) switchRun(newest);
      }
      for (const [run, task, state] of change.cells) {
        const rect = run === graph.dataset.run ? nodes.get(task) : undefined;
        if (rect) colour(rect, task, state);
      }
      for (const [run, state] of change.runs) {
        if (run === graph.dataset.run && runState) {
          setState(runState, state);
          runState.textContent = state;
        }
      }
    });
    source.addEventListener("health", (event) => showHealth(JSON.parse(event.data).unhealthy));
    window.addEventListener("pagehide", () => source.close());
  }

  // The banner the server rendered, kept current by the live stream's "health" events.
  function showHealth(unhealthy) {
    const banner = document.getElementById("health-banner");
    const parts = document.getElementById("health-parts");
    if (!banner || !parts) return;
    parts.textContent = unhealthy.join(", ");
    banner.hidden = unhealthy.length === 0;
  }

  // -- forms that ask first (delete) --------------------------------------------------------

  function confirmForms() {
    for (const form of document.querySelectorAll("form[data-confirm]")) {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    confirmForms();
    followGrid();
    followGraph();
    for (const view of document.querySelectorAll(".log-view")) followLog(view);
  });
})();
