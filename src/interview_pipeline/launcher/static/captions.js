// Live captions from the bot's RTVI messages. The interviewer's words come from "bot-output":
// pipecat sends a sentence's "new" message as it passes the output transport, which holds it
// back until the audio before it has played, so a sentence appears as it starts being heard
// (and word by word when the TTS reports word times: "in-progress"). The candidate's words are
// "user-transcription" messages, shown as the STT recognises them. The transcript below stays
// polled from the store: it is complete after a reconnect, captions are only what is live now.
(function () {
  "use strict";
  const page = (window.InterviewPage = window.InterviewPage || {});
  const SHOWN = 2; // caption lines kept on screen

  page.captions = function (state, box, names) {
    const lines = []; // {who, segments: Map(id -> text), finals: [], interim: "", el}
    // A sentence's later messages ("completed") can come after its turn's line was closed
    // (the bot paused between sentences): they update the line the sentence is on.
    const bySegment = new Map();
    let unnamed = 0; // ids for text that comes without a segment id: each its own
    let sawBotOutput = false;
    let textSeen = false; // the current interviewer line has words (a new turn starts a new line)
    state.captions = [];
    state.firstCaptionAt = null;

    function text(line) {
      if (line.who === "interviewer") return Array.from(line.segments.values()).join(" ");
      return line.finals.concat(line.interim ? [line.interim] : []).join(" ");
    }

    function render(line) {
      const value = text(line).replace(/\s+/g, " ").trim() + (line.cut ? " —" : "");
      if (!line.el) {
        line.el = document.createElement("p");
        line.el.className = line.who;
        const who = document.createElement("b");
        who.textContent = (line.who === "interviewer" ? names.interviewer : "You") + ": ";
        line.el.append(who, document.createTextNode(""));
        box.appendChild(line.el);
        while (box.children.length > SHOWN) box.removeChild(box.firstChild);
      }
      line.el.lastChild.textContent = value;
      line.record.text = value;
      if (line.who === "interviewer" && value && state.firstCaptionAt === null) {
        state.firstCaptionAt = performance.now();
      }
    }

    function current(who) {
      const last = lines[lines.length - 1];
      if (last && last.who === who && !(who === "interviewer" && last.closed)) return last;
      const line = { who, segments: new Map(), finals: [], interim: "", record: { who, text: "" } };
      lines.push(line);
      state.captions.push(line.record);
      if (lines.length > 50) lines.shift();
      return line;
    }

    function interviewerSays(segment, words) {
      if (!words) return;
      const line = bySegment.get(segment) || current("interviewer");
      bySegment.set(segment, line);
      if (bySegment.size > 200) bySegment.delete(bySegment.keys().next().value);
      line.segments.set(segment, words);
      textSeen = true;
      render(line);
    }

    function botOutput(data) {
      if (!data || !data.will_be_spoken || typeof data.text !== "string") return;
      sawBotOutput = true;
      const id = data.segment_id != null ? data.segment_id : "t" + (unnamed += 1);
      const progress = data.spoken_progress;
      if (data.spoken_status === "in-progress" && progress) {
        interviewerSays(id, progress.accumulated_text);
      } else {
        interviewerSays(id, data.text); // "new": starts now; "completed": all of it was said
      }
    }

    function candidateSays(data) {
      if (!data || typeof data.text !== "string" || !data.text.trim()) return;
      const line = current("candidate");
      if (data.final) {
        line.finals.push(data.text.trim());
        line.interim = "";
      } else {
        line.interim = data.text.trim();
      }
      render(line);
    }

    function onMessage(msg) {
      switch (msg.type) {
        case "bot-output":
          botOutput(msg.data);
          break;
        case "bot-tts-text": // servers that send no bot-output
          if (!sawBotOutput && msg.data) interviewerSays("t" + (unnamed += 1), msg.data.text);
          break;
        case "user-transcription":
          candidateSays(msg.data);
          break;
        case "bot-started-speaking": {
          // A new turn of the interviewer's: its own line, after whatever the candidate said.
          const last = lines[lines.length - 1];
          if (last && textSeen) last.closed = true;
          textSeen = false;
          break;
        }
        case "bot-interrupted": {
          const last = lines[lines.length - 1];
          if (last && last.who === "interviewer" && text(last)) {
            last.cut = true;
            last.closed = true;
            render(last);
          }
          break;
        }
        default:
          return false;
      }
      return true;
    }

    return { onMessage };
  };
})();
