/*
 * The modeler page's behaviour (api/templates/designer/modeler.html, api/pages/modeler.py).
 *
 * Loads the diagram into bpmn-js (modeler.js, window.CarecenterBpmn), exposes the Modeler as
 * window.carecenterModeler, and talks to the server the way an upload does: the diagram goes as
 * a .bpmn file in a multipart form with the CSRF token.
 * - every change: the draft is saved (after 1.5 s of quiet) and the deploy checks run (after 0.8 s);
 *   leaving the page with unsaved changes sends the draft with sendBeacon;
 * - Check / Save draft: the same, at once;
 * - Deploy: a real form submit, the diagram put into its file field;
 * - the server's check answer (an HTML fragment) lists problems with their element ids; each is
 *   marked on its element, and clicking it selects the element;
 * - after each check the customer view (stages in three languages) is asked for again; Run scenarios
 *   posts the diagram to the scenario runner and shows each step's outcome.
 * Plain script, no build step: change it here.
 */
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('modeler-data').textContent);
  var texts = data.texts;
  var status = document.getElementById('modeler-status');
  var checkSlot = document.getElementById('modeler-check-slot');
  var deployForm = document.getElementById('modeler-deploy');
  var csrf = deployForm.querySelector('input[name=csrf_token]').value;
  var buttons = {
    check: document.getElementById('modeler-check'),
    save: document.getElementById('modeler-save'),
    deploy: document.getElementById('modeler-deploy-button'),
    download: document.getElementById('modeler-download'),
    scenarios: document.getElementById('modeler-run-scenarios'),
  };
  var scenariosSlot = document.getElementById('modeler-scenarios-slot');
  var scenariosStatus = document.getElementById('modeler-scenarios-status');
  var customerSlot = document.getElementById('modeler-customer-view-slot');

  var modeler = window.CarecenterBpmn.createModeler(
    document.getElementById('modeler-canvas'),
    document.getElementById('modeler-panel'),
    { groups: data.groups, forms: data.forms, operations: data.operations, texts: texts, urls: data.urls, csrf: csrf }
  );
  window.carecenterModeler = modeler;

  var dirty = false; // changed since the draft was last saved
  var readOnly = false; // the file holds content the editor cannot keep
  var timers = {};
  var marked = [];

  function say(text, isError) {
    status.textContent = '';
    var span = document.createElement('span');
    if (isError) span.className = 'error';
    span.textContent = text;
    status.appendChild(span);
  }

  function later(name, delay, work) {
    clearTimeout(timers[name]);
    timers[name] = setTimeout(work, delay);
  }

  function processId() {
    var definitions = modeler.getDefinitions();
    var process = (definitions.rootElements || []).find(function (e) { return e.$type === 'bpmn:Process'; });
    return process ? process.id : 'process';
  }

  function filename() {
    return data.filename || processId().replace(/[^A-Za-z0-9_.-]/g, '_') + '.bpmn';
  }

  function diagram() {
    return modeler.saveXML({ format: true }).then(function (result) {
      return new File([result.xml], filename(), { type: 'application/xml' });
    });
  }

  function form(file) {
    var body = new FormData();
    body.append('csrf_token', csrf);
    body.append('base_version', data.base_version == null ? '' : String(data.base_version));
    body.append('files', file, file.name);
    return body;
  }

  function post(url, file) {
    return fetch(url, { method: 'POST', body: form(file), credentials: 'same-origin' }).then(function (response) {
      return response.text().then(function (html) { return { ok: response.ok, status: response.status, html: html }; });
    });
  }

  // -- drafts ---------------------------------------------------------------------------------

  function saveDraft() {
    if (readOnly) return Promise.resolve();
    clearTimeout(timers.save);
    say(texts.saving);
    var sent = dirty;
    dirty = false;
    return diagram()
      .then(function (file) { return post(data.urls.draft, file); })
      .then(function (answer) {
        var holder = document.createElement('div');
        holder.innerHTML = answer.html;
        say(holder.textContent.trim(), !answer.ok);
        if (!answer.ok) dirty = dirty || sent;
      })
      .catch(function (error) {
        dirty = dirty || sent;
        say(texts.saved_failed.replace('{reason}', String(error)), true);
      });
  }

  window.addEventListener('pagehide', function () {
    if (!dirty || readOnly || fileActions.deploying) return;
    // The last changes, before the tab goes: saveXML is synchronous in effect for a loaded diagram,
    // but returns a promise; the beacon goes from its callback while the page is still alive.
    modeler.saveXML({ format: true }).then(function (result) {
      navigator.sendBeacon(data.urls.draft, form(new File([result.xml], filename(), { type: 'application/xml' })));
    });
  });

  // -- checks ---------------------------------------------------------------------------------

  function clearMarks() {
    var canvas = modeler.get('canvas');
    var overlays = modeler.get('overlays');
    marked.forEach(function (mark) {
      canvas.removeMarker(mark.id, mark.marker);
    });
    overlays.remove({ type: 'cc-problem' });
    marked = [];
  }

  function shapeFor(id) {
    var registry = modeler.get('elementRegistry');
    var element = registry.get(id);
    if (element) return element;
    // a process's own problems: its pool, if it is drawn in one
    return registry.find(function (e) {
      return e.businessObject && e.businessObject.processRef && e.businessObject.processRef.id === id;
    });
  }

  function select(id) {
    var element = shapeFor(id);
    if (!element) return;
    modeler.get('selection').select(element);
    if (element.waypoints || element.x !== undefined) {
      try { modeler.get('canvas').scrollToElement(element); } catch (ignored) { /* the root has no bounds */ }
    }
  }

  function markProblems() {
    clearMarks();
    var canvas = modeler.get('canvas');
    var overlays = modeler.get('overlays');
    var counts = {};
    checkSlot.querySelectorAll('[data-element-id]').forEach(function (item) {
      var id = item.getAttribute('data-element-id');
      var element = id && shapeFor(id);
      if (!element || element === canvas.getRootElement()) return;
      var problem = item.classList.contains('modeler-problem');
      var marker = problem ? 'cc-problem' : 'cc-warning';
      canvas.addMarker(element.id, marker);
      marked.push({ id: element.id, marker: marker });
      if (!problem) return;
      counts[element.id] = (counts[element.id] || 0) + 1;
    });
    Object.keys(counts).forEach(function (id) {
      var badge = document.createElement('span');
      badge.className = 'cc-problem-badge';
      badge.setAttribute('data-problem-for', id);
      badge.setAttribute('role', 'img');
      badge.setAttribute('aria-label', texts.problem_badge);
      badge.textContent = String(counts[id]);
      badge.addEventListener('click', function () { select(id); });
      overlays.add(id, 'cc-problem', { position: { top: -8, right: 8 }, html: badge });
    });
  }

  checkSlot.addEventListener('click', function (event) {
    var target = event.target.closest('[data-select]');
    if (target) select(target.getAttribute('data-select'));
  });

  var checking = 0;
  function check() {
    clearTimeout(timers.check);
    var ticket = ++checking;
    say(texts.checking);
    return diagram()
      .then(function (file) { return post(data.urls.check, file); })
      .then(function (answer) {
        if (ticket !== checking) return; // a newer check is under way
        checkSlot.innerHTML = answer.html;
        markProblems();
        customerView();
        var result = checkSlot.querySelector('#modeler-check-result p');
        say(result ? result.textContent.trim() : '', !answer.ok);
      })
      .catch(function (error) {
        say(texts.check_failed.replace('{reason}', String(error)), true);
      });
  }

  // -- testing: scenarios and the customer view ------------------------------------------------

  var running = false;
  function runScenarios() {
    if (running) return Promise.resolve();
    running = true;
    buttons.scenarios.disabled = true;
    scenariosStatus.textContent = texts.scenarios_running;
    scenariosSlot.setAttribute('aria-busy', 'true');
    return diagram()
      .then(function (file) { return post(data.urls.scenarios, file); })
      .then(function (answer) {
        scenariosSlot.innerHTML = answer.html;
        var result = scenariosSlot.querySelector('#modeler-scenarios-result');
        var summary = result && result.querySelector(':scope > p');
        scenariosStatus.textContent = summary ? summary.textContent.trim() : '';
        var failed = !answer.ok || (result && (result.getAttribute('data-failed') !== '0' || result.querySelector('.error')));
        scenariosStatus.className = failed ? 'error' : 'ok';
      })
      .catch(function (error) {
        scenariosStatus.textContent = texts.scenarios_failed.replace('{reason}', String(error));
      })
      .then(function () {
        running = false;
        buttons.scenarios.disabled = readOnly;
        scenariosSlot.removeAttribute('aria-busy');
      });
  }

  var viewing = 0;
  function customerView() {
    var ticket = ++viewing;
    return diagram()
      .then(function (file) { return post(data.urls.customer_view, file); })
      .then(function (answer) {
        if (ticket === viewing) customerSlot.innerHTML = answer.html;
      })
      .catch(function () { /* the check says what is wrong with the diagram */ });
  }

  scenariosSlot.addEventListener('click', function (event) {
    var target = event.target.closest('[data-select]');
    if (target) select(target.getAttribute('data-select'));
  });
  customerSlot.addEventListener('click', function (event) {
    var target = event.target.closest('[data-select]');
    if (target) select(target.getAttribute('data-select'));
  });

  // -- deploy and download --------------------------------------------------------------------

  var fileActions = window.carecenterFileActions({
    form: deployForm,
    download: buttons.download,
    file: diagram,
    beforeDeploy: function () { clearTimeout(timers.save); },
  });

  buttons.check.addEventListener('click', check);
  buttons.scenarios.addEventListener('click', runScenarios);
  buttons.save.addEventListener('click', saveDraft);

  // -- start ----------------------------------------------------------------------------------

  function describeCanvas() {
    var svg = document.querySelector('#modeler-canvas svg');
    if (svg) {
      svg.setAttribute('role', 'img');
      svg.setAttribute('aria-label', texts.canvas);
    }
    // palette entries are drawn as titled divs: name them for assistive technology
    document.querySelectorAll('#modeler-canvas .djs-palette .entry').forEach(function (entry) {
      if (!entry.getAttribute('aria-label') && entry.getAttribute('title')) {
        entry.setAttribute('aria-label', entry.getAttribute('title'));
        entry.setAttribute('role', 'button');
      }
    });
  }

  // The whole diagram in view, right of the palette that floats over the canvas's left edge.
  function fitBesidePalette() {
    var canvas = modeler.get('canvas');
    canvas.zoom('fit-viewport', 'auto');
    var palette = document.querySelector('#modeler-canvas .djs-palette');
    var area = document.getElementById('modeler-canvas').getBoundingClientRect();
    var box = canvas.viewbox();
    var inner = box.inner;
    if (!palette || !box.scale || !inner.width || !inner.height) return;
    var covered = palette.getBoundingClientRect().right - area.left + 16; // px of the canvas the palette takes
    var margin = 24;
    var scale = Math.min(box.scale, (area.width - covered - margin) / inner.width, (area.height - 2 * margin) / inner.height);
    if (scale <= 0) return;
    var width = area.width / scale;
    var height = area.height / scale;
    canvas.viewbox({
      x: inner.x - covered / scale,
      y: inner.y + inner.height / 2 - height / 2,
      width: width,
      height: height,
    });
  }

  modeler.importXML(data.xml).then(function (result) {
    describeCanvas();
    if (result.lost.length) {
      readOnly = true; // checking, saving or downloading it would work on less than the file holds
      say(texts.lost.replace('{what}', result.lost.slice(0, 3).join('; ')), true);
    } else {
      Object.keys(buttons).forEach(function (name) { buttons[name].disabled = false; });
    }
    window.carecenterKeepFitted(modeler, fitBesidePalette); // again on resize, until the person moves the view
    modeler.on('commandStack.changed', function () {
      if (readOnly) return;
      dirty = true;
      say(texts.unsaved);
      later('save', 1500, saveDraft);
      later('check', 800, check);
    });
    if (data.refused) {
      markProblems(); // the problems of the refused deploy, listed by the server
      customerView();
    } else if (!readOnly) {
      check();
    }
    document.body.setAttribute('data-modeler-ready', 'yes');
  }).catch(function (error) {
    say(texts.import_failed.replace('{reason}', String(error && error.message || error)), true);
    document.body.setAttribute('data-modeler-ready', 'failed');
  });
})();
