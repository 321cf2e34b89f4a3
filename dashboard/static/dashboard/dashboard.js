// Small progressive enhancements; every page works without this script.
document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    const field = document.getElementById(copy.dataset.copy);
    field.select();
    navigator.clipboard?.writeText(field.value).then(() => {
      copy.textContent = "Copied";
    });
  }
});

// Set once a form is on its way: the page is leaving, and a progress poll must not reload it
// under the submission. A cancel ends the job before its answer saves the session: the poll
// saw the job end, reloaded, and the reload, read before the message was saved and shown in
// place of the POST's answer, never said "The transcription was cancelled.".
let submitting = false;

document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
    return;
  }
  submitting = true;
});

// --- Transcripts: progress, copy, upload, player --------------------------------------------

// Progress bars ([data-job-progress]) of jobs that have not ended, polled from the JSON
// endpoint named by their container's data-progress-url; the page reloads when one lands.
const PROGRESS_POLL_MS = 1000;

function progressPoll(container) {
  const bars = () => [...container.querySelectorAll("[data-job-progress]")];
  if (!bars().length) return;
  const tick = async () => {
    if (submitting) return;
    const ids = bars().map((bar) => bar.dataset.jobProgress);
    let landed = false;
    try {
      const url = `${container.dataset.progressUrl}?ids=${encodeURIComponent(ids.join(","))}`;
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const { jobs } = await response.json();
        const known = new Map(jobs.map((job) => [job.id, job]));
        for (const bar of bars()) {
          const job = known.get(bar.dataset.jobProgress);
          if (!job) {
            landed = true; // deleted meanwhile
            continue;
          }
          bar.setAttribute("aria-valuenow", job.progress);
          bar.dataset.status = job.status;
          bar.querySelector(".progress-fill").style.width = `${job.progress}%`;
          const label = bar.parentElement.querySelector("[data-progress-label]");
          if (label) label.textContent = `${job.progress}%`;
          if (job.finished) landed = true;
        }
      }
    } catch (error) {
      // A network hiccup: try again at the next tick.
    }
    if (submitting) return;
    if (landed) {
      window.location.reload();
    } else {
      window.setTimeout(tick, PROGRESS_POLL_MS);
    }
  };
  window.setTimeout(tick, PROGRESS_POLL_MS);
}

document.querySelectorAll("[data-progress-url]").forEach(progressPoll);

// Copy an element's text ([data-copy-text] names the element).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-text]");
  if (!button) return;
  const text = document.getElementById(button.dataset.copyText).textContent.trim();
  navigator.clipboard?.writeText(text).then(
    () => {
      button.textContent = "Copied";
    },
    () => {
      button.textContent = "Copy failed";
    },
  );
});

// The upload form: a file dropped on the zone goes into its file input.
document.querySelectorAll("[data-dropzone]").forEach((zone) => {
  const input = zone.querySelector("input[type=file]");
  const name = zone.querySelector("[data-file-name]");
  const show = () => {
    if (input.files.length) name.textContent = input.files[0].name;
  };
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach((type) =>
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    }),
  );
  ["dragleave", "drop"].forEach((type) =>
    zone.addEventListener(type, () => zone.classList.remove("dragging")),
  );
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer?.files.length) {
      input.files = event.dataTransfer.files;
      show();
    }
  });
});

// The player of a transcript with retained audio: the segment being played is highlighted,
// and a click on a segment (or Enter on it) plays from its start.
document.querySelectorAll("audio[data-segments-player]").forEach((audio) => {
  const table = document.getElementById(audio.dataset.segmentsPlayer);
  if (!table) return;
  const rows = [...table.querySelectorAll("tbody tr[data-start]")];
  const seek = (row) => {
    audio.currentTime = parseFloat(row.dataset.start);
    audio.play().catch(() => {});
  };
  rows.forEach((row) => {
    row.addEventListener("click", () => seek(row));
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter") seek(row);
    });
  });
  const highlight = () => {
    const t = audio.currentTime;
    rows.forEach((row) => {
      const current = t >= parseFloat(row.dataset.start) && t < parseFloat(row.dataset.end);
      row.classList.toggle("current", current);
      if (current) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    });
  };
  audio.addEventListener("timeupdate", highlight);
  audio.addEventListener("seeked", highlight);
});
