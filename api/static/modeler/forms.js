/*
 * The form editor's behaviour (api/templates/designer/modeler_form.html, api/pages/modeler_forms.py).
 *
 * The page works without it (Check renders the preview); with it, 0.6 s after typing stops the
 * schema and layout are posted for the preview and the check (an HTML fragment replacing
 * #form-result-slot), and after 1.5 s saved as the draft. Download JSON saves the schema as a file.
 * Plain script, no build step: change it here.
 */
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('form-data').textContent);
  var form = document.getElementById('form-editor');
  var csrf = form.querySelector('input[name=csrf_token]').value;
  var slot = document.getElementById('form-result-slot');
  var status = document.getElementById('form-status');
  var schema = document.getElementById('form-schema');
  var ui = document.getElementById('form-ui');
  var download = document.getElementById('form-download');
  var timers = {};
  var ticket = 0;

  function body() {
    var fields = new FormData();
    fields.append('csrf_token', csrf);
    fields.append('schema', schema.value);
    fields.append('ui', ui.value);
    return fields;
  }

  function post(url) {
    return fetch(url, { method: 'POST', body: body(), credentials: 'same-origin' }).then(function (response) {
      return response.text().then(function (html) { return { ok: response.ok, html: html }; });
    });
  }

  function preview() {
    var mine = ++ticket;
    return post(data.urls.preview).then(function (answer) {
      if (mine !== ticket) return;
      slot.innerHTML = answer.html;
      document.body.setAttribute('data-form-previewed', String(mine));
    });
  }

  function saveDraft() {
    status.textContent = data.texts.saving;
    return post(data.urls.draft).then(function (answer) {
      var holder = document.createElement('div');
      holder.innerHTML = answer.html;
      status.textContent = holder.textContent.trim();
    });
  }

  function changed() {
    status.textContent = data.texts.unsaved;
    clearTimeout(timers.preview);
    clearTimeout(timers.draft);
    timers.preview = setTimeout(preview, 600);
    timers.draft = setTimeout(saveDraft, 1500);
  }

  schema.addEventListener('input', changed);
  ui.addEventListener('input', changed);

  download.hidden = false;
  download.addEventListener('click', function (event) {
    event.preventDefault();
    var link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([schema.value], { type: 'application/json' }));
    link.download = form.getAttribute('action').split('/')[2];
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
  });
  document.body.setAttribute('data-form-ready', 'yes');
})();
