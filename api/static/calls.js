// The screen pop: incoming calls on every staff page, as /calls/stream sends them (server-sent events).
//
// The server renders each pop (in the viewer's language, with the cases they may see); this script
// only places it, keeps one per call, and posts its "log this call" form in place. When the stream
// ends (its lifetime, a restart, the server's limit of streams) the browser reconnects by itself
// after the delay the server names: with too many streams open that is polling. Without this
// script, /calls lists the calls going on with the same forms. On the first page of /calls both of its
// sections follow the stream instead of pops: a call that rings, is answered or ends reloads the calls
// going on and the caller log (the first not while the agent is typing in it: it waits until they are done).
(function () {
  "use strict";

  var host = document.getElementById("call-pops");
  if (!host || !window.EventSource || !window.fetch) {
    return;
  }
  var streamUrl = host.getAttribute("data-stream");
  var retryAfterFailure = 5000;
  var OPENED_KEY = "carecenter-calls-opened"; // the calls whose customer page was opened, newest last
  var OPENED_KEPT = 50;
  var source = null;
  var liveLog = document.querySelector("section[data-live-log]");
  var liveGoingOn = document.querySelector("section[data-live-going-on]");
  var refresh = null;

  // What the agent changed in a section's forms and has not sent: the same fields of the fresh section get it.
  function changedFields(section) {
    return Array.prototype.filter.call(section.querySelectorAll("input[id], textarea[id], select[id]"), function (field) {
      if (field.type === "hidden") {
        return false;
      }
      if (field.tagName === "SELECT") {
        return Array.prototype.some.call(field.options, function (option) {
          return option.selected !== option.defaultSelected;
        });
      }
      if (field.type === "checkbox" || field.type === "radio") {
        return field.checked !== field.defaultChecked;
      }
      return field.value !== field.defaultValue;
    });
  }

  // A section of the page as the server renders it now (in the viewer's language), keeping what the agent
  // typed in it; false (nothing replaced) while the agent is typing in it.
  function replaced(section, fresh) {
    if (!section || !fresh || fresh.innerHTML === section.innerHTML) {
      return section;
    }
    if (section.contains(document.activeElement) && typing()) {
      return false;
    }
    var changed = changedFields(section);
    section.replaceWith(fresh);
    changed.forEach(function (field) {
      var twin = document.getElementById(field.id);
      if (twin && twin !== field && fresh.contains(twin)) {
        if (field.type === "checkbox" || field.type === "radio") {
          twin.checked = field.checked;
        } else {
          twin.value = field.value;
        }
      }
    });
    return fresh;
  }

  // The page's live sections, fetched once the events settle.
  function refreshSections(delay) {
    if (!liveLog || refresh) {
      return;
    }
    refresh = window.setTimeout(function () {
      fetch(location.href, { credentials: "same-origin" })
        .then(function (response) {
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          refresh = null;
          if (!html) {
            return;
          }
          var page = new DOMParser().parseFromString(html, "text/html");
          liveLog = replaced(liveLog, page.querySelector("section[data-live-log]")) || liveLog;
          var goingOn = replaced(liveGoingOn, page.querySelector("section[data-live-going-on]"));
          if (goingOn === false) {
            refreshSections(2000); // the agent is typing in a call's form: look again later
          } else {
            liveGoingOn = goingOn;
          }
        })
        .catch(function () {
          refresh = null;
        });
    }, delay);
  }

  function pops() {
    return Array.prototype.slice.call(host.querySelectorAll(".call-pop"));
  }

  function fromHtml(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim(); // rendered and escaped by the server's templates
    return template.content.firstElementChild;
  }

  function typing() {
    var active = document.activeElement;
    return active && active !== document.body && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  }

  function show(data) {
    var existing = document.getElementById("call-" + data.id);
    var inPage = existing && !host.contains(existing); // the /calls page shows it already
    if (data.state === "ended" && !data.keep) {
      if (existing && !inPage) {
        existing.remove();
      }
      return;
    }
    if (inPage) {
      return;
    }
    if (liveGoingOn) {
      openCustomer(data); // this page lists the calls going on itself (refreshSections)
      return;
    }
    if (existing && existing.contains(document.activeElement)) {
      return; // the agent is typing in this pop: keep what they typed
    }
    var pop = fromHtml(data.html);
    pop.setAttribute("data-keep", data.keep ? "1" : "");
    var dismiss = pop.querySelector(".call-dismiss");
    if (dismiss) {
      dismiss.hidden = false;
    }
    if (existing) {
      existing.replaceWith(pop);
    } else {
      host.prepend(pop);
    }
    openCustomer(data);
  }

  // The agent who answered gets the customer's page, once per call, unless they are typing.
  function openCustomer(data) {
    if (!data.open || location.pathname === data.open || typing()) {
      return;
    }
    // once per call in this browser, whichever tab heard it first: a tab opened later stays where it is
    try {
      var opened = JSON.parse(localStorage.getItem(OPENED_KEY) || "[]");
      if (!Array.isArray(opened) || opened.indexOf(data.id) >= 0) {
        return;
      }
      opened.push(data.id);
      localStorage.setItem(OPENED_KEY, JSON.stringify(opened.slice(-OPENED_KEPT)));
    } catch (e) {
      return;
    }
    location.assign(data.open);
  }

  function goingOn(ids) {
    pops().forEach(function (pop) {
      var id = Number(pop.getAttribute("data-call"));
      if (ids.indexOf(id) < 0 && !pop.getAttribute("data-keep")) {
        pop.remove();
      }
    });
  }

  function connect() {
    source = new EventSource(streamUrl);
    source.addEventListener("going-on", function (event) {
      goingOn(JSON.parse(event.data));
    });
    source.addEventListener("call", function (event) {
      show(JSON.parse(event.data));
      refreshSections(400);
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        // not a stream (signed out, the page gone): try again later, more slowly each time
        window.setTimeout(connect, retryAfterFailure);
        retryAfterFailure = Math.min(retryAfterFailure * 2, 120000);
      }
    });
    source.addEventListener("open", function () {
      retryAfterFailure = 5000;
    });
  }

  host.addEventListener("click", function (event) {
    var button = event.target.closest(".call-dismiss");
    if (button) {
      button.closest(".call-pop").remove();
    }
  });

  host.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList.contains("call-log")) {
      return;
    }
    event.preventDefault();
    var pop = form.closest(".call-pop");
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Screen-Pop": "1" },
    })
      .then(function (response) {
        return response.text().then(function (text) {
          if (response.status === 200 || response.status === 422) {
            var fresh = fromHtml(text);
            fresh.setAttribute("data-keep", "1");
            fresh.querySelector(".call-dismiss").hidden = false;
            pop.replaceWith(fresh);
          } else {
            button.disabled = false;
          }
        });
      })
      .catch(function () {
        button.disabled = false;
      });
  });

  connect();
})();
