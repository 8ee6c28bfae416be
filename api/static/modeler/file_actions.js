/*
 * The Deploy and Download buttons of both editors (the BPMN editor, editor.js; the decision tables,
 * decisions.js): each sends the file its modeler holds now, as the deploy form's file or as a download.
 * window.carecenterFileActions({form, download, file, beforeDeploy}) wires them and returns a state
 * whose `deploying` turns true once the form goes (the editors then save no draft on leaving).
 */
(function () {
  'use strict';

  window.carecenterFileActions = function (options) {
    var state = { deploying: false };

    options.form.addEventListener('submit', function (event) {
      if (state.deploying) return;
      event.preventDefault();
      options.file().then(function (file) {
        var files = new DataTransfer();
        files.items.add(file);
        document.getElementById('modeler-deploy-file').files = files.files;
        state.deploying = true;
        options.beforeDeploy();
        options.form.submit();
      });
    });

    options.download.addEventListener('click', function () {
      options.file().then(function (file) {
        var link = document.createElement('a');
        link.href = URL.createObjectURL(file);
        link.download = file.name;
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
      });
    });

    return state;
  };
})();
