// Make the ipywidgets embed manager (loaded after this file) work with this theme and
// with MathJax 3, without a kernel or a CDN.
//
// 1. The theme's Font Awesome JS swaps <i> icons for <svg>; the Play widget keeps a
//    reference to its <i> and throws once it is replaced. 'nest' keeps the <i> in place.
window.FontAwesomeConfig = { autoReplaceSvg: "nest" };

// 2. @jupyter-widgets/base typesets widget labels through the MathJax 2 API,
//    MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]). MathJax 3 has no Hub, so that
//    call throws. Map it onto MathJax 3's typesetPromise once MathJax has loaded (it is a
//    deferred script, so it has run by DOMContentLoaded; the widgets render at 'load').
document.addEventListener("DOMContentLoaded", function () {
  var mj = window.MathJax;
  if (!mj || mj.Hub || typeof mj.typesetPromise !== "function") return;
  mj.Hub = {
    Queue: function () {
      for (var i = 0; i < arguments.length; i++) {
        var job = arguments[i];
        if (Array.isArray(job) && job[0] === "Typeset" && job[2]) {
          mj.typesetPromise([job[2]]).catch(function (err) { console.warn(err); });
        }
      }
    },
  };
});
