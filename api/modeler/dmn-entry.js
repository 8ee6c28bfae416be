/**
 * The decision editor's bundle entry (api/static/modeler/dmn.js): dmn-js's Modeler, which edits a DMN
 * file's decision requirements diagram, decision tables and literal expressions. A bundle of its own,
 * so the BPMN pages do not load it. The page's script (api/static/modeler/decisions.js) calls
 * window.CarecenterDmn.createModeler.
 */

import DmnModeler from 'dmn-js/lib/Modeler';

/** A dmn-js Modeler drawing into `container`; it opens a decision table view when the file has one. */
function createModeler(container) {
  return new DmnModeler({ container });
}

window.CarecenterDmn = { createModeler };
