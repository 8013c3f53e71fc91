// The session list: filters by status and persona, keyset pages (the API's next_cursor; the
// cursors of the pages seen are kept for "Previous"), each row linking to its review page.
// window.sessions exposes the page's state to tests.
(() => {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const state = (window.sessions = { phase: "loading", page: 1, rows: [], errors: [], loads: 0 });
  const LABELS = {
    strong_yes: "Strong yes", yes: "Yes", lean_no: "Lean no", no: "No",
    insufficient_data: "Insufficient data",
  };
  let cursors = [null]; // cursor of each page seen, page 1 first
  let next = null;
  let filled = false;

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  function cell(text, child) {
    const td = document.createElement("td");
    if (child) td.append(child); else td.textContent = text;
    return td;
  }

  async function exchange(token) {
    const r = await fetch("/review/session", {
      method: "POST", credentials: "same-origin", headers: { Authorization: "Bearer " + token },
    });
    return r.ok;
  }

  function askKey(message) {
    state.phase = "needs_key";
    $("state").textContent = "Not signed in.";
    $("keyerror").textContent = message || "";
    $("keyform").hidden = false;
  }

  $("keyform").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = $("apikey").value.trim();
    if (key && (await exchange(key))) {
      $("apikey").value = "";
      $("keyform").hidden = true;
      await load();
    } else {
      $("keyerror").textContent = "That key was refused.";
    }
  });

  function fill(select, values) {
    for (const v of values) {
      const o = document.createElement("option");
      o.value = v;
      o.textContent = v.replaceAll("_", " ");
      select.append(o);
    }
  }

  async function load() {
    const params = new URLSearchParams({ limit: $("limit").value });
    for (const name of ["status", "persona"]) if ($(name).value) params.set(name, $(name).value);
    const cursor = cursors[state.page - 1];
    if (cursor) params.set("cursor", cursor);
    state.phase = "loading";
    const r = await fetch(`/review/sessions?${params}`, { credentials: "same-origin" });
    if (r.status === 401) return askKey();
    if (!r.ok) {
      state.phase = "error";
      state.errors.push(`HTTP ${r.status}`);
      $("state").textContent = `The list cannot be shown (HTTP ${r.status}).`;
      return;
    }
    const data = await r.json();
    if (!filled) {
      fill($("status"), data.statuses);
      fill($("persona"), data.personas);
      filled = true;
    }
    next = data.next_cursor;
    state.rows = data.sessions;
    state.loads += 1;
    $("rows").replaceChildren(...data.sessions.map(row));
    $("state").textContent = data.sessions.length
      ? `${data.sessions.length} session(s) on this page.` : "No sessions match.";
    $("pageno").textContent = `Page ${state.page}`;
    $("prev").disabled = state.page === 1;
    $("next").disabled = !next;
    state.phase = "ready";
  }

  function row(s) {
    const tr = document.createElement("tr");
    tr.dataset.session = s.session_id;
    const a = document.createElement("a");
    a.href = `/sessions/${encodeURIComponent(s.session_id)}/review`;
    a.textContent = s.candidate_name || "(no name)";
    const started = new Date(s.started_at * 1000);
    tr.append(
      cell("", a),
      cell(s.status.replaceAll("_", " ")),
      cell(s.persona),
      cell(started.toLocaleString()),
      cell(s.duration_s === null ? "–" : clock(s.duration_s)),
      cell(s.recommendation
        ? `${LABELS[s.recommendation] || s.recommendation}${s.score === null ? "" : " (" + s.score.toFixed(1) + ")"}`
        : "–"),
    );
    return tr;
  }

  $("next").addEventListener("click", () => {
    if (!next) return;
    cursors = cursors.slice(0, state.page);
    cursors.push(next);
    state.page += 1;
    load();
  });
  $("prev").addEventListener("click", () => {
    if (state.page === 1) return;
    state.page -= 1;
    load();
  });
  $("filters").addEventListener("change", () => {
    cursors = [null];
    state.page = 1;
    load();
  });

  (async () => {
    try {
      const m = location.hash.match(/token=([^&]+)/);
      if (m) {
        history.replaceState(null, "", location.pathname + location.search);
        if (!(await exchange(decodeURIComponent(m[1])))) {
          return askKey("This link has expired or is not valid.");
        }
      }
      await load();
    } catch (err) {
      state.phase = "error";
      state.errors.push(String(err));
    }
  })();
})();
