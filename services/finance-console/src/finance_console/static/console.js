// Finance console scripts (no inline script: the CSP allows only files from /static).
// Statement upload: XHR so the browser reports real upload progress while the file streams.
(function () {
  "use strict";
  var form = document.getElementById("upload-form");
  if (!form) { return; }
  var bar = document.getElementById("upload-progress");
  var fill = document.getElementById("upload-fill");
  var label = document.getElementById("upload-pct");
  var result = document.getElementById("upload-result");

  function show(percent) {
    fill.style.width = percent + "%";
    label.textContent = percent + "%";
    bar.setAttribute("data-percent", String(percent));
  }

  function yuan(fen) {
    var sign = fen < 0 ? "-" : "";
    var abs = Math.abs(fen);
    var cents = String(abs % 100).padStart(2, "0");
    return sign + Math.floor(abs / 100).toLocaleString("en-US") + "." + cents;
  }

  function line(text, cls) {
    var p = document.createElement("p");
    if (cls) { p.className = cls; }
    p.textContent = text;
    result.appendChild(p);
  }

  function report(status, body) {
    result.textContent = "";
    if (body && body.ok) {
      var s = body.statement;
      line((s.created ? "Loaded " : "Already loaded before: ") + s.source + " statement of " +
        s.statement_date + " — " + s.lines + " lines", "ok");
      line(s.payment_count + " payments ¥" + yuan(s.payment_total_fen) + ", " + s.refund_count +
        " refunds ¥" + yuan(s.refund_total_fen) + ", fees ¥" + yuan(s.fee_total_fen));
    } else {
      var detail = body ? String(body.detail) : "";
      var where = body && body.line_no && detail.indexOf("line " + body.line_no) !== 0 ?
        " (line " + body.line_no + ")" : "";
      line("Rejected" + where + ": " + (body ? detail : "HTTP " + status), "error");
      if (body && body.code) { line("code " + body.code + " · HTTP " + status, "hint"); }
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var file = form.querySelector("input[type=file]").files[0];
    var max = Number(form.getAttribute("data-max-bytes"));
    if (file && max && file.size > max) {
      report(413, { ok: false, detail: "the file exceeds the limit of " + max + " bytes", code: "upload_too_large" });
      return;
    }
    var xhr = new XMLHttpRequest();
    var seen = [];
    bar.hidden = false;
    show(0);
    result.textContent = "Uploading…";
    form.querySelector("button").disabled = true;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        var percent = Math.floor((e.loaded / e.total) * 100);
        seen.push(percent);
        bar.setAttribute("data-steps", seen.join(","));
        show(percent);
      }
    });
    xhr.upload.addEventListener("load", function () {
      show(100);
      result.textContent = "Uploaded; recon-service is parsing the file…";
    });
    xhr.addEventListener("load", function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (err) { body = null; }
      report(xhr.status, body);
      form.querySelector("button").disabled = false;
    });
    xhr.addEventListener("error", function () {
      report(0, { ok: false, detail: "the upload was interrupted", code: "network_error" });
      form.querySelector("button").disabled = false;
    });
    xhr.open("POST", form.action);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.send(new FormData(form));
  });
})();
