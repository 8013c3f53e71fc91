// Device check before joining: pick a microphone, watch its level, hear a test sound.
// The track opened here is the one published when the candidate joins, so what they checked
// is what the interviewer hears, and the browser asks for permission only once.
(function () {
  "use strict";
  const page = (window.InterviewPage = window.InterviewPage || {});

  // Every way getUserMedia fails, in words a candidate can act on.
  const PROBLEMS = {
    NotAllowedError: "Microphone access is blocked. Allow it for this site in your browser's " +
      "settings (usually the icon next to the address), then press Try again.",
    SecurityError: "Microphone access is blocked on this page. Allow it for this site in your " +
      "browser's settings, then press Try again.",
    NotFoundError: "No microphone was found. Connect one (or a headset), then press Try again.",
    OverconstrainedError: "That microphone is no longer available. Choose another, or connect " +
      "it again and press Try again.",
    NotReadableError: "Your microphone could not be opened: another app may be using it. " +
      "Close that app, then press Try again.",
  };
  const CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

  page.deviceCheck = function (state, els, onChange) {
    let stream = null;
    let audioCtx = null;
    let meterTimer = null;
    state.mic = { status: "unchecked", message: "", devices: [], peak: 0 };

    function context() {
      audioCtx = audioCtx || new AudioContext();
      if (audioCtx.state === "suspended") audioCtx.resume();
      return audioCtx;
    }

    function say(status, message) {
      state.mic.status = status;
      state.mic.message = message;
      els.message.textContent = message;
      els.message.className = "message " + (status === "ok" ? "ok" : "problem");
      onChange();
    }

    function stopMeter() {
      if (meterTimer) clearInterval(meterTimer);
      meterTimer = null;
    }

    function meter(track) {
      stopMeter();
      const ctx = context();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 1024;
      ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
      const buf = new Float32Array(analyser.fftSize);
      meterTimer = setInterval(() => {
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const v of buf) sum += v * v;
        // RMS scaled so normal speech fills most of the bar.
        const level = Math.min(1, Math.sqrt(sum / buf.length) * 4);
        els.level.value = level;
        state.mic.level = level;
        state.mic.peak = Math.max(state.mic.peak, level);
        if (track.readyState === "ended") {
          stopMeter();
          say("error", "Your microphone stopped. Check it is connected, then press Try again.");
        }
      }, 80);
    }

    async function listDevices(current) {
      const all = await navigator.mediaDevices.enumerateDevices();
      const mics = all.filter((d) => d.kind === "audioinput");
      state.mic.devices = mics.map((d) => d.label || "Microphone");
      els.select.replaceChildren(...mics.map((d, i) => {
        const opt = document.createElement("option");
        opt.value = d.deviceId;
        opt.textContent = d.label || "Microphone " + (i + 1);
        opt.selected = d.deviceId === current;
        return opt;
      }));
    }

    async function open(deviceId) {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
        say("error", "This page needs a secure (https) connection to use your microphone.");
        return;
      }
      stop();
      say("checking", "Asking for your microphone…");
      try {
        const audio = Object.assign({}, CONSTRAINTS, deviceId ? { deviceId: { exact: deviceId } } : {});
        stream = await navigator.mediaDevices.getUserMedia({ audio });
      } catch (err) {
        const status = err.name === "NotFoundError" ? "missing"
          : (err.name === "NotAllowedError" || err.name === "SecurityError") ? "denied" : "error";
        say(status, PROBLEMS[err.name] || "Your microphone could not be opened (" + err.name +
          "). Press Try again.");
        els.check.textContent = "Try again";
        return;
      }
      const track = stream.getAudioTracks()[0];
      await listDevices(track.getSettings().deviceId);
      els.controls.hidden = false;
      els.check.hidden = true;
      meter(track);
      say("ok", "Microphone ready. Speak and check the level moves.");
    }

    function stop() {
      stopMeter();
      if (stream) stream.getTracks().forEach((t) => t.stop());
      stream = null;
    }

    function testSound() {
      // A two-note chime made here: nothing to download, and it plays through the same
      // output the interviewer will.
      const ctx = context();
      const now = ctx.currentTime;
      [660, 880].forEach((freq, i) => {
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, now + i * 0.35);
        gain.gain.exponentialRampToValueAtTime(0.3, now + i * 0.35 + 0.03);
        gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.35 + 0.32);
        osc.connect(gain).connect(ctx.destination);
        osc.start(now + i * 0.35);
        osc.stop(now + i * 0.35 + 0.34);
      });
      state.speakerTestedAt = performance.now();
      els.speakerMessage.textContent = "Did you hear two notes? If not, turn the volume up or " +
        "choose another output device on your computer, then play it again.";
    }

    els.check.addEventListener("click", () => open(null));
    els.select.addEventListener("change", () => open(els.select.value));
    els.speaker.addEventListener("click", testSound);
    return {
      open,
      stop,
      stopMeter,
      track: () => (stream ? stream.getAudioTracks()[0] : null),
      audioContext: context,
    };
  };
})();
