/*
 * A bpmn-js diagram fitted to its box when it is shown, and fitted again when the box changes size
 * (a resized window, a turned phone): a diagram fitted to a wide window otherwise stays that size in
 * a narrow one, cut off at the side. Once the person has zoomed or scrolled the diagram (wheel, drag,
 * keys, a click on a problem that scrolls to its element), the view is theirs and a resize leaves it.
 * window.carecenterKeepFitted(viewer, fit) fits the viewer now with fit() and keeps doing so; used by
 * the editor (editor.js) and the compare page (compare.js). Plain script, no build step: change it here.
 */
(function () {
  'use strict';

  var QUIET = 150; // ms without a change of size before the diagram is fitted again

  window.carecenterKeepFitted = function (viewer, fit) {
    var canvas = viewer.get('canvas');
    var box = canvas.getContainer();
    var fitting = false; // the view changes because of fit(), not because of the person
    var theirs = false;
    var timer = null;
    var size = box.clientWidth + 'x' + box.clientHeight;

    function refit() {
      if (theirs) return;
      fitting = true;
      try {
        canvas.resized(); // diagram-js keeps the box's size until told
        fit();
      } finally {
        fitting = false;
      }
    }

    // every change of the view, the person's and the program's, starts with this event, synchronously
    viewer.get('eventBus').on('canvas.viewbox.changing', function () {
      if (!fitting) theirs = true;
    });

    new ResizeObserver(function () {
      var now = box.clientWidth + 'x' + box.clientHeight;
      if (theirs || now === size) return;
      size = now;
      clearTimeout(timer);
      timer = setTimeout(refit, QUIET);
    }).observe(box);

    refit();
  };
})();
