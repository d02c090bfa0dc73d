// Point require.js at the ipywidgets embed manager served by this site (not a CDN), so the
// manager's own chunks and fonts resolve to _static/jupyter-widgets/.
(function () {
  var here = document.currentScript.src.replace(/require-config\.js.*$/, "");
  require.config({
    paths: {
      "@jupyter-widgets/html-manager/dist": here + "jupyter-widgets",
      "@jupyter-widgets": here + "jupyter-widgets",
    },
  });
})();
