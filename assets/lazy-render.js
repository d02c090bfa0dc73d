// Off-screen parts of a chapter skip rendering, so an explorable's redraw costs the
// browser the figure, not the whole page.
//
// A chapter page is long (text, typeset math, code cells, figures), and every frame in
// which an explorable redraws also walks, paints and commits the rest of the page: on
// a slow machine that is most of the frame. With `content-visibility: auto` the browser
// skips the parts that are off screen until they come near the viewport. Each part
// keeps its measured height (`contain-intrinsic-size: auto <height>px`), so nothing
// moves when a part comes into view, and it stays in the accessibility tree and in
// find-in-page. Parts holding a widget (an explorable) are left alone.
//
// The heights are measured once the math is typeset and the fonts are loaded, and again
// after the window changes width. `window.__laRenderAll = true` (set before this script
// runs) turns it off: the accessibility tests check every part of a page as rendered.
(function () {
  "use strict";
  if (window.__laRenderAll || !("contentVisibility" in document.documentElement.style)) return;

  var WIDGETS = '.la-explorable, .jupyter-widgets, script[type="application/vnd.jupyter.widget-view+json"]';
  var parts = [];

  function collect() {
    var article = document.querySelector(".bd-article");
    if (!article) return [];
    return Array.prototype.filter.call(article.querySelectorAll("section > *:not(section)"), function (el) {
      return el.tagName !== "SCRIPT" && !el.querySelector(WIDGETS);
    });
  }

  function apply() {
    parts = collect();
    // containment first (it can change a part's height: margins stop collapsing
    // through it), then measure every part, then write: one layout, not one per part
    parts.forEach(function (el) {
      el.style.contentVisibility = "visible";
      el.style.containIntrinsicSize = "none";
      el.style.contain = "layout paint style";
    });
    var heights = parts.map(function (el) { return el.getBoundingClientRect().height; });
    parts.forEach(function (el, k) {
      if (heights[k] <= 0) return;
      el.style.containIntrinsicSize = "auto " + heights[k] + "px";
      el.style.contentVisibility = "auto";
    });
    document.documentElement.setAttribute("data-la-lazy", String(parts.length));
  }

  function ready() {
    var math = window.MathJax && window.MathJax.startup && window.MathJax.startup.promise;
    var fonts = document.fonts ? document.fonts.ready : null;
    Promise.all([math, fonts]).then(function () {
      requestAnimationFrame(apply);
    });
  }

  var width = window.innerWidth;
  var pending = null;
  window.addEventListener("resize", function () {
    if (window.innerWidth === width) return;
    width = window.innerWidth;
    clearTimeout(pending);
    pending = setTimeout(apply, 200);
  });

  if (document.readyState === "complete") ready();
  else window.addEventListener("load", ready);
})();
