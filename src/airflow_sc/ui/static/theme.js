// airflow-sc UI: the colour theme. Loaded (not deferred) in <head> so the chosen theme is
// set before the page is drawn. The choice ("light", "dark", or none: the system's
// prefers-color-scheme) is kept in localStorage; the header's button cycles through them.
"use strict";

(function () {
  const KEY = "airflow-sc-theme";
  const ORDER = ["system", "dark", "light"];

  function stored() {
    try {
      const value = window.localStorage.getItem(KEY);
      return value === "dark" || value === "light" ? value : "system";
    } catch (e) {
      return "system";
    }
  }

  function apply(theme) {
    if (theme === "system") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
  }

  apply(stored());

  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("theme-toggle");
    if (!button) return;
    const label = () => { button.textContent = "Theme: " + stored(); };
    label();
    button.hidden = false;
    button.addEventListener("click", () => {
      const next = ORDER[(ORDER.indexOf(stored()) + 1) % ORDER.length];
      try {
        if (next === "system") window.localStorage.removeItem(KEY);
        else window.localStorage.setItem(KEY, next);
      } catch (e) {
        return;
      }
      apply(next);
      label();
    });
  });
})();
