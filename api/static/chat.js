// The chat, live: new lines and the chat's state as the server sends them (server-sent events), forms posted in place.
//
// One script for the customer's chat page, the agent's chat page and the staff's queue. The server
// renders every line and state (escaped, in the reader's language); this script only places them,
// once per line id. When the stream breaks (a restart of the server, a proxy), the browser
// reconnects by itself and sends the last line id it has (Last-Event-ID), so the server sends
// only what came after; when the browser gives up, this script reconnects with that id in the
// address. With too many streams open the server answers at once and names a delay: polling.
// Without this script the pages work as plain forms and links.
(function () {
  "use strict";

  if (!window.EventSource || !window.fetch) {
    return;
  }

  function fromHtml(html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim(); // rendered and escaped by the server's templates
    return template.content;
  }

  // Follow a stream; `lastId()` names the last line this page has, for a fresh connection.
  function follow(url, handlers, lastId) {
    // a chat waits for its next line: after a restart it must resume within seconds, not minutes
    var retryAfterFailure = 1000;
    var stopped = false;
    var source = null;

    function address() {
      var id = lastId();
      if (!id) {
        return url;
      }
      var parsed = new URL(url, location.href);
      parsed.searchParams.set("after", String(id));
      return parsed.pathname + parsed.search;
    }

    function connect() {
      source = new EventSource(address());
      Object.keys(handlers).forEach(function (name) {
        source.addEventListener(name, function (event) {
          handlers[name](JSON.parse(event.data));
        });
      });
      source.addEventListener("end", function () {
        stopped = true;
        source.close();
      });
      source.addEventListener("open", function () {
        retryAfterFailure = 1000;
      });
      source.addEventListener("error", function () {
        if (source.readyState === EventSource.CLOSED && !stopped) {
          // not a stream (the server away, a proxy's error page): try again, more slowly each time
          window.setTimeout(connect, retryAfterFailure);
          retryAfterFailure = Math.min(retryAfterFailure * 2, 10000);
        }
      });
    }

    connect();
  }

  // -- one chat (the customer's or the agent's page) -----------------------------------------------

  var chat = document.getElementById("chat");
  if (chat) {
    var log = document.getElementById("chat-log");
    var state = document.getElementById("chat-state");
    var composer = document.getElementById("chat-send");
    var newest = 0;
    var status = chat.getAttribute("data-status");

    Array.prototype.forEach.call(document.querySelectorAll(".chat-refresh"), function (link) {
      link.hidden = true;
    });
    Array.prototype.forEach.call(log.querySelectorAll("li[id^=line-]"), function (line) {
      newest = Math.max(newest, Number(line.id.slice(5)));
    });
    newest = Math.max(newest, Number(new URL(chat.getAttribute("data-stream"), location.href).searchParams.get("after") || 0));

    var line = function (data) {
      newest = Math.max(newest, data.id);
      if (!data.html || document.getElementById("line-" + data.id)) {
        return;
      }
      log.appendChild(fromHtml(data.html));
      log.lastElementChild.scrollIntoView({ block: "nearest" });
    };

    var changed = function (data) {
      var typingHere = state.contains(document.activeElement) && document.activeElement !== document.body;
      if (!(typingHere && data.status === status)) {
        state.innerHTML = "";
        state.appendChild(fromHtml(data.html));
      }
      status = data.status;
      if (composer) {
        composer.hidden = !data.can_send;
      }
    };

    if (!chat.hasAttribute("data-done")) {
      follow(chat.getAttribute("data-stream"), { line: line, state: changed }, function () {
        return newest;
      });
    }

    chat.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.classList.contains("chat-live")) {
        return;
      }
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      var problem = form.querySelector(".chat-problem");
      var text = form.querySelector("textarea");
      button.disabled = true;
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-Chat-Live": "1" },
      })
        .then(function (response) {
          return response.text().then(function (body) {
            button.disabled = false;
            if (response.ok) {
              if (text) {
                text.value = "";
                text.focus();
              }
              if (problem) {
                problem.textContent = "";
              }
            } else if (problem) {
              // our own answers are a sentence of plain text; anything else (a proxy's page, a rate limit) is not shown
              var ours = (response.headers.get("Content-Type") || "").indexOf("text/plain") === 0 && body;
              problem.textContent = ours ? body : chat.getAttribute(response.status >= 500 ? "data-offline" : "data-failed");
            }
          });
        })
        .catch(function () {
          button.disabled = false;
          if (problem) {
            problem.textContent = chat.getAttribute("data-offline");
          }
        });
    });

    // Enter sends, Shift+Enter starts a new line
    if (composer) {
      composer.addEventListener("keydown", function (event) {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.target.tagName === "TEXTAREA") {
          event.preventDefault();
          composer.requestSubmit();
        }
      });
    }
  }

  // -- the staff's queue ---------------------------------------------------------------------------

  var queue = document.getElementById("chat-queue");
  if (queue) {
    follow(
      queue.getAttribute("data-stream"),
      {
        queue: function (data) {
          if (queue.contains(document.activeElement) && document.activeElement !== document.body) {
            return; // the agent is about to press a button here: the next update comes soon
          }
          queue.innerHTML = "";
          queue.appendChild(fromHtml(data.html));
        },
      },
      function () {
        return 0;
      }
    );
  }
})();
