// Point require.js at the ipywidgets embed manager and anywidget served by this site (not a
// CDN), so the manager's own chunks and fonts resolve to _static/jupyter-widgets/.
(function () {
  var here = document.currentScript.src.replace(/require-config\.js.*$/, "");
  require.config({
    paths: {
      "@jupyter-widgets/html-manager/dist": here + "jupyter-widgets",
      "@jupyter-widgets": here + "jupyter-widgets",
      // The explorables' front end (npm anywidget, the version pinned in requirements.txt).
      anywidget: here + "anywidget/index",
    },
  });
})();
