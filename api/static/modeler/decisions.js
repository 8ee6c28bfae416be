/*
 * The decision editor's behaviour (api/templates/designer/modeler_decision.html, api/pages/modeler_decisions.py).
 *
 * Loads the DMN file into dmn-js (dmn.js, window.CarecenterDmn), opens its first decision table,
 * offers a button per view (the requirements diagram, each decision), exposes the Modeler as
 * window.carecenterDmn, and talks to the server as the BPMN editor does: the file goes as a .dmn
 * file in a multipart form with the CSRF token; after each change the draft is saved (1.5 s) and
 * the deploy checks run (0.8 s); Deploy is a real form submit with the file put into its field.
 * Plain script, no build step: change it here.
 */
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('modeler-data').textContent);
  var texts = data.texts;
  var status = document.getElementById('modeler-status');
  var checkSlot = document.getElementById('modeler-check-slot');
  var viewsNav = document.getElementById('decision-views');
  var deployForm = document.getElementById('modeler-deploy');
  var csrf = deployForm.querySelector('input[name=csrf_token]').value;
  var buttons = {
    check: document.getElementById('modeler-check'),
    save: document.getElementById('modeler-save'),
    deploy: document.getElementById('modeler-deploy-button'),
    download: document.getElementById('modeler-download'),
  };
  var modeler = window.CarecenterDmn.createModeler(document.getElementById('decision-canvas'));
  window.carecenterDmn = modeler;
  var timers = {};
  var dirty = false;

  function say(text, isError) {
    status.textContent = '';
    var span = document.createElement('span');
    if (isError) span.className = 'error';
    span.textContent = text;
    status.appendChild(span);
  }

  function file() {
    return modeler.saveXML({ format: true }).then(function (result) {
      return new File([result.xml], data.filename, { type: 'application/xml' });
    });
  }

  function form(dmn) {
    var body = new FormData();
    body.append('csrf_token', csrf);
    body.append('files', dmn, dmn.name);
    return body;
  }

  function post(url, dmn) {
    return fetch(url, { method: 'POST', body: form(dmn), credentials: 'same-origin' }).then(function (response) {
      return response.text().then(function (html) { return { ok: response.ok, html: html }; });
    });
  }

  function saveDraft() {
    clearTimeout(timers.save);
    say(texts.saving);
    var sent = dirty;
    dirty = false;
    return file().then(function (dmn) { return post(data.urls.draft, dmn); }).then(function (answer) {
      var holder = document.createElement('div');
      holder.innerHTML = answer.html;
      say(holder.textContent.trim(), !answer.ok);
      if (!answer.ok) dirty = dirty || sent;
    }).catch(function (error) {
      dirty = dirty || sent;
      say(texts.saved_failed.replace('{reason}', String(error)), true);
    });
  }

  var checking = 0;
  function check() {
    clearTimeout(timers.check);
    var ticket = ++checking;
    say(texts.checking);
    return file().then(function (dmn) { return post(data.urls.check, dmn); }).then(function (answer) {
      if (ticket !== checking) return;
      checkSlot.innerHTML = answer.html;
      var result = checkSlot.querySelector('#modeler-check-result p');
      say(result ? result.textContent.trim() : '', !answer.ok);
    }).catch(function (error) {
      say(texts.check_failed.replace('{reason}', String(error)), true);
    });
  }

  function changed() {
    dirty = true;
    say(texts.unsaved);
    clearTimeout(timers.save);
    clearTimeout(timers.check);
    timers.save = setTimeout(saveDraft, 1500);
    timers.check = setTimeout(check, 800);
  }

  // every view (requirements diagram, each table) has a viewer of its own: listen to each once
  var watched = [];
  function watch() {
    var viewer = modeler.getActiveViewer();
    if (!viewer || watched.indexOf(viewer) >= 0) return;
    watched.push(viewer);
    viewer.on('commandStack.changed', changed);
  }

  function viewName(view) {
    if (view.type === 'drd') return texts.drd;
    return (view.element && (view.element.name || view.element.id)) || view.id;
  }

  function showViews() {
    viewsNav.textContent = '';
    var active = modeler.getActiveView();
    modeler.getViews().forEach(function (view) {
      var button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary';
      button.setAttribute('data-view', view.element ? view.element.id : view.id);
      button.setAttribute('data-view-type', view.type);
      if (active && active.element === view.element) button.setAttribute('aria-pressed', 'true');
      else button.setAttribute('aria-pressed', 'false');
      button.textContent = viewName(view);
      button.addEventListener('click', function () { modeler.open(view); });
      viewsNav.appendChild(button);
    });
  }

  function open(id) {
    var view = modeler.getViews().find(function (v) { return v.element && v.element.id === id; });
    if (view) modeler.open(view);
  }

  checkSlot.addEventListener('click', function (event) {
    var target = event.target.closest('[data-select]');
    if (target) open(target.getAttribute('data-select'));
  });

  var fileActions = window.carecenterFileActions({
    form: deployForm,
    download: buttons.download,
    file: file,
    beforeDeploy: function () { clearTimeout(timers.save); },
  });
  buttons.check.addEventListener('click', check);
  buttons.save.addEventListener('click', saveDraft);

  window.addEventListener('pagehide', function () {
    if (!dirty || fileActions.deploying) return;
    modeler.saveXML({ format: true }).then(function (result) {
      navigator.sendBeacon(data.urls.draft, form(new File([result.xml], data.filename, { type: 'application/xml' })));
    });
  });

  modeler.on('views.changed', function () {
    watch();
    showViews();
  });

  modeler.importXML(data.xml).then(function () {
    var table = modeler.getViews().find(function (view) { return view.type === 'decisionTable'; });
    var first = table ? modeler.open(table) : Promise.resolve();
    return Promise.resolve(first).then(function () {
      watch();
      showViews();
      Object.keys(buttons).forEach(function (name) { buttons[name].disabled = false; });
      if (!data.refused) check();
      document.body.setAttribute('data-modeler-ready', 'yes');
    });
  }).catch(function (error) {
    say(texts.import_failed.replace('{reason}', String(error && error.message || error)), true);
    document.body.setAttribute('data-modeler-ready', 'failed');
  });
})();
