/*
 * The compare page's diagrams (api/templates/designer/modeler_compare.html, api/pages/modeler_compare.py).
 *
 * Draws the older and the newer version read-only with bpmn-js (window.CarecenterBpmn.createViewer
 * from modeler.js) and marks the elements the server found: removed ones on the older diagram,
 * added ones on the newer, changed ones on both; each mark is a colour (CSS class on the shape)
 * and a sign (+, −, ~) in a badge, so colour is not the only cue. Clicking an element in the
 * lists below selects it on the diagrams. Plain script, no build step: change it here.
 */
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('compare-data').textContent);
  var texts = data.texts;
  var SIGNS = { added: '+', removed: '\u2212', changed: '~' };
  var viewers = {};

  function mark(viewer, ids, kind) {
    var registry = viewer.get('elementRegistry');
    var canvas = viewer.get('canvas');
    var overlays = viewer.get('overlays');
    ids.forEach(function (id) {
      var element = registry.get(id);
      if (!element || element === canvas.getRootElement()) return;
      canvas.addMarker(id, 'cc-' + kind);
      var badge = document.createElement('span');
      badge.className = 'compare-mark compare-' + kind;
      badge.setAttribute('data-mark-for', id);
      badge.setAttribute('role', 'img');
      badge.setAttribute('aria-label', texts[kind]);
      badge.textContent = SIGNS[kind];
      var position = { top: -10, right: 10 };
      if (element.waypoints) { // the middle of the flow's first segment
        var a = element.waypoints[0], b = element.waypoints[1] || a;
        position = { top: (a.y + b.y) / 2 - element.y - 22, left: (a.x + b.x) / 2 - element.x - 10 };
      }
      overlays.add(id, 'cc-compare', { position: position, html: badge });
    });
  }

  function show(which, xml, marks) {
    var container = document.getElementById('compare-' + which);
    var viewer = window.CarecenterBpmn.createViewer(container);
    viewers[which] = viewer;
    return viewer.importXML(xml).then(function () {
      var svg = container.querySelector('svg');
      if (svg) {
        svg.setAttribute('role', 'img');
        svg.setAttribute('aria-label', texts.diagram.replace('{version}', data.versions[which]));
      }
      window.carecenterKeepFitted(viewer, function () { viewer.get('canvas').zoom('fit-viewport', 'auto'); });
      Object.keys(marks).forEach(function (kind) { mark(viewer, marks[kind], kind); });
    }).catch(function (error) {
      var message = document.createElement('p');
      message.className = 'error';
      message.textContent = texts.import_failed.replace('{reason}', String(error && error.message || error));
      container.replaceChildren(message);
    });
  }

  function select(id) {
    Object.keys(viewers).forEach(function (which) {
      var viewer = viewers[which];
      var element = viewer.get('elementRegistry').get(id);
      if (!element) return;
      viewer.get('selection').select(element);
      try { viewer.get('canvas').scrollToElement(element); } catch (ignored) { /* the root has no bounds */ }
    });
  }

  document.addEventListener('click', function (event) {
    var target = event.target.closest('[data-select]');
    if (target) select(target.getAttribute('data-select'));
  });

  Promise.all([
    show('before', data.before, { removed: data.removed, changed: data.changed }),
    show('after', data.after, { added: data.added, changed: data.changed }),
  ]).then(function () {
    window.carecenterCompare = viewers;
    document.body.setAttribute('data-compare-ready', 'yes');
  });
})();
