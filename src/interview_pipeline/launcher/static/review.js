// The review page: the recording beside the transcript. The turn being played is highlighted
// as playback goes; every turn, every evidence quote and every bar of the timeline seeks the
// player to its moment. All text goes in as textContent; the timeline SVG is drawn (and
// escaped) by the server. window.review exposes the page's state to tests.
(() => {
  "use strict";
  const sid = decodeURIComponent(location.pathname.split("/")[2] || "");
  const state = (window.review = {
    phase: "loading", current: null, seeks: 0, lastSeek: null, errors: [], recorded: null,
  });
  const $ = (id) => document.getElementById(id);
  const player = $("player");
  const list = $("transcript");
  const items = new Map(); // seq -> <li>
  let turns = []; // sorted by start
  let pending = null; // a seek asked for before the player knew the file's length
  let playhead = null;
  let geometry = null;

  const LABELS = {
    strong_yes: "Strong yes", yes: "Yes", lean_no: "Lean no", no: "No",
    insufficient_data: "Insufficient data",
  };

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("data-") || k.startsWith("aria-") || k === "type") node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) if (c) node.append(c);
    return node;
  }

  async function exchange(token) {
    const r = await fetch("/review/session", {
      method: "POST", credentials: "same-origin", headers: { Authorization: "Bearer " + token },
    });
    return r.ok;
  }

  function askKey(message) {
    state.phase = "needs_key";
    $("subtitle").textContent = "Not signed in.";
    $("keyerror").textContent = message || "";
    $("keyform").hidden = false;
  }

  $("keyform").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = $("apikey").value.trim();
    if (!key) return;
    if (await exchange(key)) {
      $("apikey").value = "";
      $("keyform").hidden = true;
      await load();
    } else {
      $("keyerror").textContent = "That key was refused.";
    }
  });

  async function load() {
    const r = await fetch(`/sessions/${encodeURIComponent(sid)}/review/data`, {
      credentials: "same-origin",
    });
    if (r.status === 401) return askKey();
    if (!r.ok) {
      state.phase = "error";
      state.errors.push(`data: HTTP ${r.status}`);
      $("subtitle").textContent = `This review cannot be shown (HTTP ${r.status}).`;
      return;
    }
    render(await r.json());
  }

  function render(data) {
    state.data = data;
    const s = data.session;
    document.title = `Review: ${s.candidate_name}`;
    $("title").textContent = `Interview review: ${s.candidate_name}`;
    const started = new Date((s.candidate_joined_at || s.created_at) * 1000);
    const bits = [s.role, `interviewer ${s.interviewer_name}`, `persona ${s.persona}`, s.status,
      `started ${started.toLocaleString()}`];
    if (s.ended_at) bits.push(`${clock(s.ended_at - (s.candidate_joined_at || s.created_at))} long`);
    $("subtitle").textContent = bits.filter(Boolean).join(" · ");

    const notes = $("notes-list");
    notes.replaceChildren(...data.notes.map((n) => el("li", { text: n })));
    $("notes").hidden = data.notes.length === 0;

    state.recorded = data.recording.available ? data.recording.duration_s : null;
    if (data.recording.available) {
      player.src = data.recording.url;
      player.hidden = false;
    } else {
      $("no-recording").hidden = false;
    }
    const timeline = $("timeline");
    timeline.innerHTML = data.timeline_svg;
    const svg = timeline.querySelector("svg");
    if (svg) {
      geometry = { x0: +svg.dataset.x0, scale: +svg.dataset.scale };
      playhead = svg.querySelector("#tl-playhead");
    }
    timeline.addEventListener("click", (ev) => {
      const target = ev.target.closest("[data-t]");
      if (target) seek(parseFloat(target.dataset.t));
    });

    const numbers = new Map(data.questions.map((q, i) => [q.id, i + 1]));
    turns = data.turns.slice().sort((a, b) => a.start - b.start);
    list.replaceChildren(...data.turns.map((t) => turnItem(t, numbers)));
    renderReport(data);
    $("report-link").href = `/sessions/${encodeURIComponent(sid)}/report?format=html`;
    state.phase = "ready";
    update();
  }

  function turnItem(t, numbers) {
    const who = t.speaker === "interviewer" ? state.data.session.interviewer_name
      : state.data.session.candidate_name;
    const tags = [];
    if (t.kind === "question" || (t.kind === "opening" && t.question_id)) {
      tags.push(`question ${numbers.get(t.question_id) || t.question_id}`);
    }
    if (t.kind === "follow_up") tags.push("follow-up");
    if (t.kind === "nudge") tags.push("silence nudge");
    if (t.kind === "repeat") tags.push("repeated after a silence");
    if (t.kind === "cut_off") tags.push("cut off");
    if (t.interrupted) tags.push("interrupted");
    const playable = state.recorded !== null && t.start < state.recorded;
    if (state.recorded !== null && !playable) tags.push("not in the recording");
    const button = el("button", {
      class: "seek", type: "button", "data-seq": String(t.seq), "data-t": String(t.start),
      "aria-disabled": playable ? "false" : "true",
    },
    el("span", { class: "t", text: clock(t.start) }),
    el("span", { class: "who", text: who }),
    el("span", { class: "text", text: t.text || "(nothing heard)" }),
    ...tags.map((tag) => el("span", { class: "tag", text: tag })));
    button.addEventListener("click", () => seek(t.start, t.seq));
    const li = el("li", { class: t.speaker, "data-seq": String(t.seq) }, button);
    items.set(t.seq, li);
    return li;
  }

  function renderReport(data) {
    const overall = $("overall");
    const criteria = $("criteria");
    const report = data.report;
    if (!report) {
      overall.replaceChildren(el("p", {
        class: "muted",
        text: data.report_status === "pending" ? "The report is not ready yet." : "No report.",
      }));
      return;
    }
    const o = report.overall;
    overall.replaceChildren(
      el("p", {},
        el("span", { class: `rec ${o.recommendation}`, text: LABELS[o.recommendation] || o.recommendation }),
        el("strong", { text: o.score === null ? "  —" : `  ${o.score.toFixed(1)} / 5` })),
      el("p", { text: o.summary }),
      o.basis ? el("p", { class: "muted", text: o.basis }) : null,
    );
    criteria.replaceChildren(...report.criteria.map((c) => {
      const score = c.score === null ? "not scored" : `${c.score}/5`;
      const quotes = c.evidence.map((e) => {
        const b = el("button", {
          class: "seek quote", type: "button", "data-t": String(e.at_s),
          "data-seq": e.seq === undefined ? "" : String(e.seq),
        },
        el("span", { text: `“${e.quote}”` }),
        el("span", { class: "where", text: `${clock(e.at_s)}${e.question_id ? " · question " + e.question_id : ""}` }));
        b.addEventListener("click", () => seek(e.at_s, e.seq));
        return b;
      });
      return el("div", { class: "criterion" },
        el("h3", { text: `${c.name} · ${score}` }),
        el("p", { class: "muted", text: c.rationale }),
        ...(quotes.length ? quotes : [el("p", { class: "muted", text: "No quote for this criterion." })]));
    }));
  }

  function seek(t, seq) {
    state.seeks += 1;
    state.lastSeek = t;
    if (state.recorded === null || t >= state.recorded) {
      highlight(seq === undefined ? (turnAt(t) || {}).seq : seq, false);
      return;
    }
    if (player.readyState < 1) {
      pending = t;
    } else {
      player.currentTime = t;
    }
    update();
    player.play().catch(() => {}); // refused without a user gesture: the seek still holds
  }

  player.addEventListener("loadedmetadata", () => {
    state.metadataAt = performance.now(); // ms since the page started loading
    if (pending !== null) {
      player.currentTime = pending;
      pending = null;
    }
    update();
  });
  player.addEventListener("error", () => {
    state.errors.push("audio: cannot be played");
  });

  function turnAt(t) {
    let lo = 0;
    let hi = turns.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (turns[mid].start <= t + 0.05) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    if (found < 0) return null;
    const turn = turns[found];
    return t <= turn.end + 2.0 ? turn : null; // a long silence after a turn highlights nothing
  }

  function highlight(seq, follow) {
    if (seq === state.current) return;
    const old = items.get(state.current);
    if (old) { old.classList.remove("current"); old.removeAttribute("aria-current"); }
    state.current = seq === undefined ? null : seq;
    const li = items.get(seq);
    if (!li) return;
    li.classList.add("current");
    li.setAttribute("aria-current", "true");
    if (follow) {
      const top = li.offsetTop; // the list is positioned: offsets are inside it
      if (top < list.scrollTop || top > list.scrollTop + list.clientHeight - li.offsetHeight) {
        list.scrollTop = Math.max(0, top - list.clientHeight / 3);
      }
    }
  }

  function update() {
    if (pending !== null) return;
    const t = player.currentTime || 0;
    const turn = turnAt(t);
    highlight(turn ? turn.seq : null, !player.paused);
    if (playhead && geometry && state.recorded !== null) {
      const x = geometry.x0 + t * geometry.scale;
      playhead.setAttribute("x1", x);
      playhead.setAttribute("x2", x);
      playhead.setAttribute("visibility", "visible");
    }
  }

  let frame = null;
  function tick() {
    update();
    frame = player.paused ? null : requestAnimationFrame(tick);
  }
  player.addEventListener("play", () => { if (frame === null) frame = requestAnimationFrame(tick); });
  for (const ev of ["timeupdate", "seeked", "pause", "ended"]) player.addEventListener(ev, update);

  (async () => {
    try {
      const m = location.hash.match(/token=([^&]+)/);
      if (m) {
        history.replaceState(null, "", location.pathname + location.search); // out of history too
        if (!(await exchange(decodeURIComponent(m[1])))) {
          return askKey("This review link has expired or is not valid.");
        }
      }
      await load();
    } catch (err) {
      state.phase = "error";
      state.errors.push(String(err));
    }
  })();
})();
