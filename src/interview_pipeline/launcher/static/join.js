// Candidate page: check devices and accept the notice, join the LiveKit room with the token
// from the URL fragment, play the interviewer (and their video), show captions, status and
// progress from the bot's RTVI messages, rejoin after a drop, and end on a closing screen.
// window.interview exposes progress for automated checks (headless Chromium tests).
(function () {
  "use strict";
  const LK = window.LivekitClient;
  const page = window.InterviewPage;
  const state = (window.interview = {
    phase: "loading", connectedAt: null, firstAudioAt: null, audioTracks: 0, videoTracks: 0,
    peakLevel: 0, transcript: [], status: null, errors: [], joinClickedAt: null,
    // Live from the bot over RTVI (LiveKit data packets): who has the floor, where we are.
    interviewerState: null, progress: null, rtviMessages: 0, statusLine: "",
    reconnects: 0, reconnectedAt: null, consent: null,
  });
  const $ = (id) => document.getElementById(id);
  const sessionId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  // Keep the token out of the address bar (and out of screenshots or shared links).
  history.replaceState(null, "", location.pathname);
  const headers = { Authorization: "Bearer " + token };
  const names = { interviewer: "The interviewer", candidate: "" };
  let room = null;
  let lastSeq = 0;
  let info = null;
  let captions = null;
  const devices = page.deviceCheck(state, {
    check: $("mic-check"), controls: $("mic-controls"), select: $("mic"), level: $("mic-level"),
    message: $("mic-message"), speaker: $("speaker-test"), speakerMessage: $("speaker-message"),
  }, updateJoin);

  function setStatus(text) {
    state.statusLine = text;
    $("status").textContent = text;
  }
  function fail(message) {
    state.errors.push(String(message));
    setStatus(String(message));
  }
  function paragraphs(el, text) {
    el.replaceChildren(...text.split(/\n\s*\n/).map((part) => {
      const p = document.createElement("p");
      p.textContent = part.trim();
      return p;
    }));
  }
  function show(section) {
    for (const id of ["precheck", "call", "ended"]) $(id).hidden = id !== section;
    // Keyboard and screen-reader users land on the new part of the page.
    const heading = $(section).querySelector("h2");
    if (heading) heading.focus();
  }

  async function api(path, options) {
    const init = Object.assign({ headers: Object.assign({}, headers) }, options || {});
    if (init.body) init.headers["Content-Type"] = "application/json";
    const res = await fetch("/join/" + encodeURIComponent(sessionId) + path, init);
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).detail || res.statusText);
    return res.json();
  }

  // --- before joining ----------------------------------------------------------------------
  function updateJoin() {
    const micOk = state.mic.status === "ok";
    const accepted = $("consent-accept").checked;
    $("join").disabled = !(micOk && accepted) || state.phase !== "ready";
    $("join-hint").textContent = micOk && accepted ? "You can join now."
      : !micOk && !accepted ? "Check your microphone and accept the notice to join."
      : !micOk ? "Check your microphone to join." : "Accept the notice to join.";
  }

  // --- during ------------------------------------------------------------------------------
  const STATES = {
    "bot-started-speaking": "speaking",
    "bot-stopped-speaking": "listening",
    "user-started-speaking": "listening",
    "bot-llm-started": "thinking",
  };
  function stateText(s) {
    const who = names.interviewer;
    return { speaking: who + " is speaking.", listening: "Your turn: " + who + " is listening.",
      thinking: who + " is thinking…" }[s];
  }

  function showProgress(p) {
    state.progress = p;
    const parts = [];
    if (p.question && p.total) parts.push("Question " + p.question + " of " + p.total);
    if (typeof p.time_left_s === "number") {
      const m = Math.floor(p.time_left_s / 60);
      const s = String(p.time_left_s % 60).padStart(2, "0");
      parts.push(m + ":" + s + " left");
    }
    if (parts.length) $("progress").textContent = parts.join(" · ");
  }

  function onData(payload) {
    let msg;
    try {
      msg = JSON.parse(new TextDecoder().decode(payload));
    } catch (_err) {
      return; // not ours
    }
    if (!msg || msg.label !== "rtvi-ai") return;
    state.rtviMessages += 1;
    captions.onMessage(msg);
    const next = STATES[msg.type];
    if (next) {
      state.interviewerState = next;
      if (state.phase === "live") setStatus(stateText(next));
    } else if (msg.type === "server-message" && msg.data && msg.data.type === "interview-progress") {
      showProgress(msg.data);
    } else if (msg.type === "server-message" && msg.data && msg.data.type === "interview-ended") {
      // A vendor failure ended the interview: say so in text (the interviewer may not be able
      // to speak), never the technical reason.
      state.endedByFault = true;
      setStatus("Sorry, the interview had to stop because of a technical problem on our side. " +
        "Nothing you said is lost; the team will be in touch.");
    }
  }

  function watchLevel(track) {
    // Measure what actually arrives: the first non-silent samples mark the greeting's arrival.
    try {
      const ctx = devices.audioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      ctx.createMediaStreamSource(new MediaStream([track.mediaStreamTrack])).connect(analyser);
      const buf = new Float32Array(analyser.fftSize);
      const tick = () => {
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const v of buf) sum += v * v;
        const rms = Math.sqrt(sum / buf.length);
        state.peakLevel = Math.max(state.peakLevel, rms);
        if (rms > 0.01 && state.firstAudioAt === null) state.firstAudioAt = performance.now();
        if (state.firstAudioAt === null && track.mediaStreamTrack.readyState === "live") {
          setTimeout(tick, 20);
        }
      };
      tick();
    } catch (err) {
      state.errors.push("level meter: " + err);
    }
  }

  function onTrack(track) {
    if (track.kind === "audio") {
      state.audioTracks += 1;
      const el = track.attach();
      el.autoplay = true;
      document.body.appendChild(el);
      watchLevel(track);
    } else if (track.kind === "video") {
      state.videoTracks += 1;
      const el = track.attach();
      el.muted = true;
      el.playsInline = true;
      el.setAttribute("aria-label", names.interviewer + ", the interviewer");
      $("stage").replaceChildren(el);
    }
  }

  function onTrackGone(track) {
    track.detach().forEach((el) => el.remove());
    if (track.kind === "video") $("stage").replaceChildren($("stage-label") || document.createTextNode(""));
  }

  function render(turns) {
    const box = $("transcript");
    for (const t of turns) {
      lastSeq = Math.max(lastSeq, t.seq);
      if (!t.text || !t.text.trim()) continue; // a line cut before any of it was said
      state.transcript.push(t);
      const p = document.createElement("p");
      p.className = t.speaker;
      const who = document.createElement("b");
      who.textContent = (t.speaker === "interviewer" ? names.interviewer : "You") + ": ";
      p.append(who, document.createTextNode(t.text));
      box.appendChild(p);
    }
    if (turns.length) box.scrollTop = box.scrollHeight;
  }

  async function pollTranscript() {
    try {
      const data = await api("/transcript?after=" + lastSeq);
      state.status = data.status;
      render(data.turns);
      if (["completed", "failed", "abandoned"].includes(data.status)) return finish("ended");
    } catch (err) {
      // Offline, the poll fails until the network is back: expected, not an error.
      if (state.phase !== "reconnecting") state.errors.push("transcript: " + err.message);
    }
    if (state.phase !== "ended") setTimeout(pollTranscript, 1000);
  }

  // --- connection --------------------------------------------------------------------------
  function connectionBanner(text) {
    $("connection").hidden = !text;
    $("connection").textContent = text || "";
  }

  function reconnecting() {
    if (state.phase === "ended" || state.phase === "reconnecting") return;
    state.phase = "reconnecting";
    state.reconnects += 1;
    connectionBanner("Connection lost. Reconnecting…");
    setStatus("Reconnecting… The interview continues when you are back.");
  }

  function reconnected() {
    if (state.phase === "ended") return;
    state.phase = "live";
    state.reconnectedAt = performance.now();
    connectionBanner("");
    setStatus("Reconnected." + (state.interviewerState ? " " + stateText(state.interviewerState) : ""));
  }

  function makeRoom() {
    const r = new LK.Room({ adaptiveStream: true, dynacast: true });
    r.on(LK.RoomEvent.TrackSubscribed, onTrack);
    r.on(LK.RoomEvent.TrackUnsubscribed, onTrackGone);
    r.on(LK.RoomEvent.DataReceived, onData);
    const lost = () => {
      state.lkReconnecting = true;
      state.lkReconnects = (state.lkReconnects || 0) + 1;
      reconnecting();
    };
    r.on(LK.RoomEvent.Reconnecting, lost);
    r.on(LK.RoomEvent.SignalReconnecting, lost);
    r.on(LK.RoomEvent.Reconnected, () => {
      state.lkReconnecting = false;
      reconnected();
    });
    r.on(LK.RoomEvent.Disconnected, (reason) => onDisconnected(r, reason));
    return r;
  }

  async function connect() {
    room = makeRoom();
    await room.connect(info.livekit_url, token);
    state.connectedAt = state.connectedAt || performance.now();
    await room.startAudio();
    let track = devices.track();
    if (!track || track.readyState !== "live") {
      await devices.open($("mic").value || null);
      track = devices.track();
    }
    await room.localParticipant.publishTrack(track, { source: LK.Track.Source.Microphone });
  }

  async function onDisconnected(r, reason) {
    if (r !== room || state.phase === "ended") return;
    const D = LK.DisconnectReason;
    if (state.leaving || reason === D.ROOM_DELETED || reason === D.PARTICIPANT_REMOVED) {
      return finish(state.leaving ? "left" : "ended");
    }
    // LiveKit gave up resuming: join again with the same token while the bot still waits.
    if (state.rejoining) return;
    state.rejoining = true;
    reconnecting();
    const deadline = performance.now() + (info.reconnect_grace_s || 30) * 1000;
    try {
      while (state.phase === "reconnecting" && performance.now() < deadline) {
        await new Promise((done) => setTimeout(done, 2000));
        try {
          await connect();
          state.lkReconnecting = false;
          return reconnected();
        } catch (err) {
          state.errors.push("rejoin: " + err.message);
        }
      }
    } finally {
      state.rejoining = false;
    }
    if (state.phase === "reconnecting") finish("lost");
  }

  async function join() {
    if ($("join").disabled) return;
    state.joinClickedAt = performance.now();
    state.phase = "joining";
    updateJoin();
    setStatus("Joining…");
    try {
      const accepted = await api("/consent", {
        method: "POST", body: JSON.stringify({ version: info.consent.version }),
      });
      state.consent = accepted.consent;
      show("call");
      await connect();
      devices.stopMeter();
      state.phase = "live";
      setStatus("Connected. " + names.interviewer + " will greet you shortly.");
    } catch (err) {
      state.phase = "ready";
      show("precheck");
      fail("Could not join: " + err.message);
      updateJoin();
    }
  }

  // --- after -------------------------------------------------------------------------------
  function finish(how) {
    if (state.phase === "ended") return;
    state.phase = "ended";
    state.ending = how;
    connectionBanner("");
    const r = room;
    room = null;
    if (r) r.disconnect();
    devices.stop();
    const title = { left: "You have left the interview", lost: "The connection was lost" }[how];
    $("ended-title").textContent = title || "The interview has ended";
    paragraphs($("end-text"), (how === "lost"
      ? "We could not reconnect you in time. Open your link again to see if the interview can " +
        "continue.\n\n" : "") + (info ? info.end_screen : ""));
    setStatus(state.endedByFault ? $("status").textContent : "");
    show("ended");
  }

  function askLeave() {
    const dialog = $("leave-dialog");
    if (typeof dialog.showModal === "function") dialog.showModal();
    else if (window.confirm("Leave the interview?")) leave();
  }
  function leave() {
    $("leave-dialog").open && $("leave-dialog").close();
    state.leaving = true;
    finish("left");
  }

  // --- start -------------------------------------------------------------------------------
  async function start() {
    if (!LK || !page) return fail("The page could not load its scripts.");
    if (!token) return fail("This link has no access token; open the full link you were sent.");
    try {
      info = await api("/session");
    } catch (err) {
      return fail("This interview link is not valid: " + err.message);
    }
    names.interviewer = info.interviewer_name;
    names.candidate = info.candidate_name;
    state.interviewer = info.interviewer_name;
    state.livekitUrl = info.livekit_url;
    state.status = info.status;
    captions = page.captions(state, $("captions"), names);
    $("title").textContent = "Interview with " + info.interviewer_name;
    $("subtitle").textContent = "Hello " + info.candidate_name + ".";
    paragraphs($("consent-text"), info.consent.text);
    $("consent-accept").checked = !!(info.consent.accepted &&
      info.consent.accepted.version === info.consent.version);
    if (["completed", "failed", "abandoned"].includes(info.status)) return finish("ended");
    state.phase = "ready";
    show("precheck");
    setStatus("Check your microphone and speakers, read the notice, then join.");
    updateJoin();
    pollTranscript();
  }

  function setCaptions(on) {
    state.captionsOn = on;
    $("captions-toggle").setAttribute("aria-checked", String(on));
    $("captions").hidden = !on;
    try { localStorage.setItem("interview.captions", on ? "on" : "off"); } catch (_e) { /* private mode */ }
  }

  // The browser knows at once when the network goes; LiveKit notices a little later (its
  // ping times out) and then resumes or rejoins. Say so from the first moment.
  window.addEventListener("offline", () => {
    if (room && state.phase === "live") reconnecting();
  });
  window.addEventListener("online", () => {
    if (room && state.phase === "reconnecting" && !state.lkReconnecting && !state.rejoining &&
        room.state === "connected") reconnected();
  });
  $("consent-accept").addEventListener("change", updateJoin);
  $("join").addEventListener("click", join);
  $("leave").addEventListener("click", askLeave);
  $("leave-cancel").addEventListener("click", () => $("leave-dialog").close());
  $("leave-confirm").addEventListener("click", leave);
  $("captions-toggle").addEventListener("click", () => setCaptions(!state.captionsOn));
  let saved = null;
  try { saved = localStorage.getItem("interview.captions"); } catch (_e) { /* private mode */ }
  setCaptions(saved !== "off");
  window.interviewJoin = join;
  start();
})();
