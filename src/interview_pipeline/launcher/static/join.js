// Candidate page: join the LiveKit room with the token from the URL fragment, play the
// interviewer, show their video when there is one, publish the microphone, poll the transcript.
// window.interview exposes progress for automated checks (headless Chromium tests).
(function () {
  "use strict";
  const LK = window.LivekitClient;
  const state = (window.interview = {
    phase: "loading", connectedAt: null, firstAudioAt: null, audioTracks: 0, videoTracks: 0,
    peakLevel: 0, transcript: [], status: null, errors: [],
    // Live from the bot over RTVI (LiveKit data packets): who has the floor, where we are.
    interviewerState: null, progress: null, rtviMessages: 0,
  });
  const $ = (id) => document.getElementById(id);
  const sessionId = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  // Keep the token out of the address bar (and out of screenshots or shared links).
  history.replaceState(null, "", location.pathname);
  const auth = { headers: { Authorization: "Bearer " + token } };
  let room = null;
  let lastSeq = 0;
  let audioCtx = null;

  function setStatus(text) { $("status").textContent = text; }
  function fail(message) {
    state.errors.push(String(message));
    setStatus(String(message));
  }

  async function api(path) {
    const res = await fetch("/join/" + encodeURIComponent(sessionId) + path, auth);
    if (!res.ok) throw new Error((await res.json().catch(() => ({}))).detail || res.statusText);
    return res.json();
  }

  function watchLevel(track) {
    // Measure what actually arrives: the first non-silent samples mark the greeting's arrival.
    try {
      audioCtx = audioCtx || new AudioContext();
      if (audioCtx.state === "suspended") audioCtx.resume();
      const source = audioCtx.createMediaStreamSource(new MediaStream([track.mediaStreamTrack]));
      const analyser = audioCtx.createAnalyser();
      analyser.fftSize = 1024;
      source.connect(analyser);
      const buf = new Float32Array(analyser.fftSize);
      const tick = () => {
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const v of buf) sum += v * v;
        const rms = Math.sqrt(sum / buf.length);
        state.peakLevel = Math.max(state.peakLevel, rms);
        if (rms > 0.01 && state.firstAudioAt === null) state.firstAudioAt = performance.now();
        if (room) setTimeout(tick, 20);
      };
      tick();
    } catch (err) {
      state.errors.push("level meter: " + err);
    }
  }

  // RTVI (pipecat) messages arrive as JSON data packets labelled "rtvi-ai". The transcript
  // stays polled from the store (the source of truth, complete after a reconnect); RTVI only
  // drives what cannot wait a second: the interviewer's state and the question counter.
  const STATES = {
    "bot-started-speaking": "speaking",
    "bot-stopped-speaking": "listening",
    "user-started-speaking": "listening",
    "bot-llm-started": "thinking",
  };
  const STATE_TEXT = { listening: "Listening…", thinking: "Thinking…", speaking: "Speaking" };

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
    const next = STATES[msg.type];
    if (next) {
      state.interviewerState = next;
      $("interviewer-state").textContent = STATE_TEXT[next];
      $("interviewer-state").className = next;
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

  function onTrack(track, _pub, participant) {
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
      $("stage").replaceChildren(el);
    }
    setStatus("Connected: " + (participant.name || participant.identity) + " is here.");
  }

  function onTrackGone(track) {
    track.detach().forEach((el) => el.remove());
    if (track.kind === "video") $("stage").replaceChildren($("stage-label") || document.createTextNode(""));
  }

  function render(turns) {
    const box = $("transcript");
    for (const t of turns) {
      state.transcript.push(t);
      lastSeq = Math.max(lastSeq, t.seq);
      const p = document.createElement("p");
      p.className = t.speaker;
      const who = document.createElement("b");
      who.textContent = (t.speaker === "interviewer" ? state.interviewer : "You") + ": ";
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
      if (["completed", "failed", "abandoned"].includes(data.status)) {
        if (!state.endedByFault) setStatus("The interview has ended. Thank you!");
        return;
      }
    } catch (err) {
      state.errors.push("transcript: " + err.message);
    }
    setTimeout(pollTranscript, 1000);
  }

  async function join() {
    $("join").disabled = true;
    setStatus("Joining…");
    try {
      room = new LK.Room({ adaptiveStream: true, dynacast: true });
      room.on(LK.RoomEvent.TrackSubscribed, onTrack);
      room.on(LK.RoomEvent.TrackUnsubscribed, onTrackGone);
      room.on(LK.RoomEvent.DataReceived, onData);
      room.on(LK.RoomEvent.Disconnected, () => {
        state.phase = "left";
        setStatus("Disconnected.");
        $("leave").hidden = true;
      });
      await room.connect(state.livekitUrl, token);
      state.connectedAt = performance.now();
      state.phase = "connected";
      await room.startAudio();
      await room.localParticipant.setMicrophoneEnabled(true);
      state.phase = "live";
      $("join").hidden = true;
      $("leave").hidden = false;
      setStatus("Connected. The interviewer will greet you shortly.");
    } catch (err) {
      fail("Could not join: " + err.message);
      $("join").disabled = false;
    }
  }

  async function start() {
    if (!LK) return fail("The page could not load its LiveKit client.");
    if (!token) return fail("This link has no access token; open the full link you were sent.");
    try {
      const info = await api("/session");
      state.livekitUrl = info.livekit_url;
      state.interviewer = info.interviewer_name;
      state.status = info.status;
      $("title").textContent = "Interview with " + info.interviewer_name;
      $("subtitle").textContent = "Hello " + info.candidate_name + ". Use headphones if you can.";
      state.phase = "ready";
      $("join").disabled = false;
      setStatus("Ready when you are.");
      pollTranscript();
    } catch (err) {
      fail("This interview link is not valid: " + err.message);
    }
  }

  $("join").addEventListener("click", join);
  $("leave").addEventListener("click", () => room && room.disconnect());
  window.interviewJoin = join;
  start();
})();
