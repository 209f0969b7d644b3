// herald Inbox keyboard shortcuts (loaded from /static; the CSP allows no inline script).
// List: j / k move the selection, Enter or o open it, a approve it, r reject it.
// Item page: e focus the editor, a approve (with the editor's text), r reject.
// Keys typed into a field are left alone (Escape leaves the field).
document.addEventListener("DOMContentLoaded", function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll("#queue tr.item"));
  var sel = rows.length ? 0 : -1;
  function mark() {
    rows.forEach(function (r, i) {
      r.classList.toggle("selected", i === sel);
      r.setAttribute("aria-selected", i === sel ? "true" : "false");
    });
    if (sel >= 0 && rows[sel].scrollIntoView) { rows[sel].scrollIntoView({ block: "nearest" }); }
  }
  function submit(form) {
    if (!form) { return; }
    if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
  }
  mark();
  // The reply editor's picture: show the chosen library file's thumbnail beside the choice.
  var pick = document.getElementById("media-file");
  var preview = null;
  if (pick) {
    preview = document.createElement("img");
    preview.id = "media-preview";
    preview.className = "preview";
    preview.alt = "";
    pick.parentNode.insertBefore(preview, pick.nextSibling);
  }
  function show() {
    var opt = pick.options[pick.selectedIndex];
    var src = opt && opt.getAttribute("data-thumb");
    if (src) { preview.src = src; preview.hidden = false; } else { preview.removeAttribute("src"); preview.hidden = true; }
  }
  if (pick && preview) { pick.addEventListener("change", show); show(); }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var tag = ev.target && ev.target.tagName;
    if (tag === "TEXTAREA" || tag === "INPUT" || tag === "SELECT") {
      if (ev.key === "Escape") { ev.target.blur(); }
      return;
    }
    var editor = document.getElementById("editor");
    if (rows.length) {
      var row = rows[sel];
      switch (ev.key) {
        case "j": sel = Math.min(sel + 1, rows.length - 1); mark(); break;
        case "k": sel = Math.max(sel - 1, 0); mark(); break;
        case "Enter": case "o": window.location.href = row.getAttribute("data-href"); break;
        case "a": submit(row.querySelector("form.approve")); break;
        case "r": submit(row.querySelector("form.reject")); break;
        default: return;
      }
      ev.preventDefault();
    } else if (editor) {
      switch (ev.key) {
        case "e": editor.focus(); editor.setSelectionRange(editor.value.length, editor.value.length); break;
        // Only where the page offers Approve: herald cannot answer some mentions itself.
        case "a": if (document.getElementById("approve")) { submit(document.getElementById("draft-form")); } break;
        case "r": submit(document.getElementById("reject-form")); break;
        default: return;
      }
      ev.preventDefault();
    }
  });
});
