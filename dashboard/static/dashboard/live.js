// The live transcription page: microphone -> 24 kHz PCM16 -> /v1/realtime (server VAD), and
// each turn's text as its deltas and completion arrive.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) return;
  var form = document.getElementById("live-form");
  var stopButton = document.getElementById("live-stop");
  var startButton = document.getElementById("live-start");
  var status = document.getElementById("live-status");
  var turns = document.getElementById("live-turns");
  var socket = null, context = null, stream = null, processor = null;
  var items = {};

  function say(text) { status.textContent = text; }

  function turn(id) {
    if (!items[id]) {
      var li = document.createElement("li");
      li.className = "pending";
      turns.appendChild(li);
      items[id] = li;
    }
    return items[id];
  }

  function base64(int16) {
    var bytes = new Uint8Array(int16.buffer), binary = "";
    for (var i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  function stop() {
    if (processor) processor.disconnect();
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    if (context) context.close();
    if (socket && socket.readyState <= 1) socket.close();
    socket = context = stream = processor = null;
    startButton.disabled = false;
    stopButton.disabled = true;
  }

  function onEvent(event) {
    switch (event.type) {
      case "session.created":
        say("Connected: speak, and pause between sentences.");
        break;
      case "input_audio_buffer.speech_started":
        turn(event.item_id).textContent = "…";
        break;
      case "conversation.item.input_audio_transcription.delta":
        var li = turn(event.item_id);
        li.textContent = (li.textContent === "…" ? "" : li.textContent) + event.delta;
        break;
      case "conversation.item.input_audio_transcription.completed":
        var done = turn(event.item_id);
        done.className = "done";
        done.textContent = event.transcript || "(no speech)";
        break;
      case "conversation.item.input_audio_transcription.failed":
        turn(event.item_id).textContent = "failed: " + event.error.message;
        break;
      case "error":
        say("Error: " + event.error.message);
        break;
    }
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var key = document.getElementById("live-key").value.trim();
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    startButton.disabled = true;
    stopButton.disabled = false;
    say("Connecting…");
    socket = new WebSocket(scheme + location.host + root.dataset.wsPath,
      ["realtime", "openai-insecure-api-key." + key]);
    socket.onmessage = function (message) { onEvent(JSON.parse(message.data)); };
    socket.onclose = function (closed) {
      if (closed.code !== 1000 && closed.code !== 1005) say(status.textContent + " (closed: " + closed.code + ")");
      stop();
    };
    socket.onopen = function () {
      var transcription = { model: document.getElementById("live-model").value };
      var language = document.getElementById("live-language").value.trim();
      if (language) transcription.language = language;
      socket.send(JSON.stringify({
        type: "session.update",
        session: {
          type: "transcription",
          audio: { input: {
            format: { type: "audio/pcm", rate: 24000 },
            transcription: transcription,
            turn_detection: { type: "server_vad", silence_duration_ms: 500 }
          } }
        }
      }));
      navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1 } }).then(function (media) {
        stream = media;
        // The browser resamples the microphone to the session's 24 kHz.
        context = new AudioContext({ sampleRate: 24000 });
        var source = context.createMediaStreamSource(media);
        processor = context.createScriptProcessor(4096, 1, 1);
        processor.onaudioprocess = function (e) {
          if (!socket || socket.readyState !== 1) return;
          var input = e.inputBuffer.getChannelData(0), pcm = new Int16Array(input.length);
          for (var i = 0; i < input.length; i++) {
            var s = Math.max(-1, Math.min(1, input[i]));
            pcm[i] = s < 0 ? s * 0x8000 : s * 0x7fff;
          }
          socket.send(JSON.stringify({ type: "input_audio_buffer.append", audio: base64(pcm) }));
        };
        source.connect(processor);
        processor.connect(context.destination);
      }).catch(function (error) {
        say("No microphone: " + error.message);
        stop();
      });
    };
  });
  stopButton.addEventListener("click", function () { say("Stopped."); stop(); });
})();
