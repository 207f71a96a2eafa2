// shebao-workflow: the warning before a staff session ends, so that typed text is not lost.
// The page is rendered with the seconds its session has left (data-idle-left: without another
// request; data-session-left: at most, since login). Shortly before the nearer end the script asks
// the server (/account/session, which is no activity: another tab may have kept the session
// alive) and, if the end is still near, shows the warning with a countdown:
// - idle: "Stay signed in" posts /account/session/keep-alive and the idle time starts again; typing
//   on the page since the last request (also before this script ran) counts as activity, and keeps
//   the session alive by itself;
// - at most: no button (a login's end does not move); send what you are filling in first.
// When the session has ended, forms are not sent (a request would only meet the login page and the
// text would be lost), also when it ended elsewhere: a logout in another tab tells this one at once
// (a BroadcastChannel), and coming back to the page asks the server. The form stays as typed and
// the warning says to log in in a new tab and come back; "I have logged in again" takes the new
// session's CSRF token into this page's forms, which can then be sent.
// Every answer of the server brings a fresh CSRF token (a page's token expires after an hour); the
// box counts the answers it has learned from (data-answers: its timers count from the last one).
(function () {
  var box = document.getElementById("session-warning");
  if (!box || !window.fetch) return;
  var data = box.dataset;
  var message = document.getElementById("session-message");
  var stay = document.getElementById("session-stay");
  var login = document.getElementById("session-login");
  var back = document.getElementById("session-back");
  var warnMs = 1000 * Number(data.warnBefore);
  var idleEnd = 0, hardEnd = 0, typed = false, answers = 0;
  var timer = null, ticker = null, ended = false;

  function learn(state) { // an answer of the server: the session's ends, a fresh CSRF token
    var now = Date.now();
    box.setAttribute("data-answers", String(++answers)); // how many it has learned from
    idleEnd = now + 1000 * state.idle_left;
    hardEnd = now + 1000 * state.session_left;
    if (state.csrf_token) {
      document.querySelectorAll('input[name="csrf_token"]').forEach(function (input) {
        input.value = state.csrf_token;
      });
    }
  }
  learn({idle_left: Number(data.idleLeft), session_left: Number(data.sessionLeft)});

  function changed(field) { // a field that no longer holds what the page came with
    if (field.type === "hidden" || field.disabled) return false;
    if (field.type === "checkbox" || field.type === "radio") {
      return field.checked !== field.defaultChecked;
    }
    if (field.tagName === "SELECT") {
      return Array.prototype.some.call(field.options, function (option, index) {
        var initially = option.defaultSelected ||
          (index === 0 && !field.multiple && !field.querySelector("option[selected]"));
        return option.selected !== initially;
      });
    }
    return field.value !== field.defaultValue;
  }
  // This script runs once the page is parsed: text typed before (a slow network) is activity too.
  typed = Array.prototype.some.call(document.querySelectorAll("input, textarea, select"), changed);

  function clock(ms) { // "4:05"
    var s = Math.max(0, Math.ceil(ms / 1000));
    var rest = s % 60;
    return Math.floor(s / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }
  function stopTimers() {
    clearTimeout(timer);
    clearInterval(ticker);
  }
  function hide() {
    box.hidden = true;
    box.removeAttribute("data-phase");
    message.removeAttribute("data-text");
  }
  var countdown = document.createElement("span");
  countdown.className = "countdown";
  countdown.setAttribute("aria-live", "off"); // the warning is read once, not every second
  function show(phase, text, left) {
    if (box.getAttribute("data-phase") !== phase || message.getAttribute("data-text") !== text) {
      var parts = text.split("{left}");
      message.textContent = parts[0];
      if (parts.length > 1) {
        message.appendChild(countdown);
        message.appendChild(document.createTextNode(parts.slice(1).join("")));
      }
      message.setAttribute("data-text", text);
      box.setAttribute("data-phase", phase);
    }
    countdown.textContent = left === undefined ? "" : clock(left);
    stay.hidden = phase !== "idle";
    login.hidden = back.hidden = phase !== "ended";
    box.hidden = false;
  }

  function schedule() { // wait quietly until the warning is near
    stopTimers();
    hide();
    ended = false;
    var wait = Math.min(idleEnd, hardEnd) - warnMs - Date.now();
    timer = setTimeout(ask, Math.max(0, wait));
  }
  function answered(response) {
    if (response.status === 401) return {live: false};
    if (!response.ok) throw new Error(String(response.status));
    return response.json();
  }
  function ask() { // the server's word: typing here since the last request keeps the session
    var request = typed && idleEnd <= hardEnd ? keepAlive() : fetch(data.statusUrl, {
      credentials: "same-origin", headers: {Accept: "application/json"}, cache: "no-store"
    }).then(answered);
    request.then(decide, function () { // the server is out of reach: try again shortly
      stopTimers();
      timer = setTimeout(ask, 15000);
    });
  }
  function keepAlive() { // activity: what was typed so far is told to the server
    typed = false;
    var token = document.querySelector('input[name="csrf_token"]');
    return fetch(data.keepAliveUrl, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: {Accept: "application/json", "X-CSRFToken": token ? token.value : ""}
    }).then(answered).catch(function (error) { typed = true; throw error; }); // told nobody
  }
  function decide(state) {
    if (!state.live) return end();
    learn(state);
    if (Math.min(idleEnd, hardEnd) - Date.now() > warnMs) return schedule();
    warn();
  }
  function warn() { // the countdown to the nearer end
    stopTimers();
    var idle = idleEnd <= hardEnd;
    var text = idle ? data.idleText : data.endText;
    function tick() {
      var left = Math.min(idleEnd, hardEnd) - Date.now();
      if (left <= 0) {
        stopTimers();
        timer = setTimeout(ask, 1500); // the server has the last word
        return;
      }
      show(idle ? "idle" : "end", text, left);
    }
    tick();
    ticker = setInterval(tick, 1000);
  }
  function end() {
    stopTimers();
    ended = true;
    show("ended", data.endedText);
  }

  stay.addEventListener("click", function () {
    keepAlive().then(decide, end);
  });
  back.addEventListener("click", function () {
    fetch(data.statusUrl, {credentials: "same-origin", cache: "no-store"})
      .then(answered)
      .then(function (state) {
        if (!state.live) return show("ended", data.stillOutText);
        learn(state);
        schedule();
      }, end);
  });
  document.addEventListener("input", function () { typed = true; }, true);
  function stopped() { // the form stays as typed; the warning says how to go on
    show("ended", data.endedText);
    box.scrollIntoView({block: "nearest"});
    back.focus();
  }
  document.addEventListener("submit", function (event) { // nothing is sent into an ended session
    var form = event.target;
    if (form.getAttribute("action") === data.logoutUrl && channel) channel.postMessage("ended");
    if (!ended || form.closest("header")) return; // logging out, searching: no text
    event.preventDefault();
    stopped();
  }, true);
  // A session may end elsewhere: a logout in another tab of this browser says so at once; coming
  // back to the page (another tab, another window) asks the server, so that a form typed here is
  // not sent into a login ended meanwhile (the sessions page, another browser).
  var channel = window.BroadcastChannel ? new BroadcastChannel("shebao-session") : null;
  if (channel) channel.onmessage = function (event) { if (event.data === "ended") end(); };
  var lastAsked = 0;
  function returned() {
    if (ended || document.visibilityState !== "visible" || Date.now() - lastAsked < 2000) return;
    lastAsked = Date.now();
    fetch(data.statusUrl, {
      credentials: "same-origin", headers: {Accept: "application/json"}, cache: "no-store"
    }).then(answered).then(function (state) {
      if (!ended) decide(state);
    }, function () {});
  }
  document.addEventListener("visibilitychange", returned);
  window.addEventListener("focus", returned);
  schedule();
})();
