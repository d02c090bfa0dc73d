// Clean math in the search page's result snippets.
//
// Sphinx cuts each snippet from the text of the page it links to (Search.htmlToText in
// searchtools.js). A page's math is stored as TeX between delimiters, which MathJax
// typesets when the page itself is shown, so a snippet would read "\(W^\top x\)".
// The search page does not load MathJax, and a 240-character snippet can cut a formula
// in half, so this script writes each formula as plain text before the snippet is cut:
// delimiters dropped and the common commands written as the symbols they stand for,
// e.g. "\(W \in \mathbb{R}^{M \times D}\)" -> "W ∈ ℝ^(M × D)". Loaded on search.html
// only (sphinxext/site_files.py); tests/browser/test_site.py checks the result.
(function () {
  "use strict";

  var SYMBOLS = {
    times: "×", cdot: "·", ast: "∗", star: "⋆", circ: "∘", odot: "⊙", otimes: "⊗",
    oplus: "⊕", pm: "±", mp: "∓", div: "÷", in: "∈", notin: "∉", ni: "∋",
    subset: "⊂", subseteq: "⊆", cup: "∪", cap: "∩", le: "≤", leq: "≤", ge: "≥",
    geq: "≥", ne: "≠", neq: "≠", approx: "≈", equiv: "≡", sim: "∼", propto: "∝",
    ll: "≪", gg: "≫", to: "→", rightarrow: "→", leftarrow: "←", gets: "←",
    mapsto: "↦", Rightarrow: "⇒", Leftrightarrow: "⇔", iff: "⇔", implies: "⇒",
    sum: "Σ", prod: "Π", int: "∫", partial: "∂", nabla: "∇", infty: "∞",
    forall: "∀", exists: "∃", emptyset: "∅", ell: "ℓ", ldots: "…", dots: "…",
    cdots: "⋯", vdots: "⋮", ddots: "⋱", langle: "⟨", rangle: "⟩", lVert: "‖",
    rVert: "‖", Vert: "‖", lvert: "|", rvert: "|", vert: "|", mid: "|",
    lfloor: "⌊", rfloor: "⌋", lceil: "⌈", rceil: "⌉", top: "ᵀ", intercal: "ᵀ",
    prime: "′", sqrt: "√", colon: ":", lbrace: "{", rbrace: "}",
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε",
    zeta: "ζ", eta: "η", theta: "θ", vartheta: "ϑ", iota: "ι", kappa: "κ",
    lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π", rho: "ρ", sigma: "σ",
    tau: "τ", upsilon: "υ", phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω",
    Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ", Xi: "Ξ", Pi: "Π",
    Sigma: "Σ", Upsilon: "Υ", Phi: "Φ", Psi: "Ψ", Omega: "Ω",
  };
  var BLACKBOARD = { R: "ℝ", N: "ℕ", Z: "ℤ", Q: "ℚ", C: "ℂ", E: "𝔼", P: "ℙ" };
  var SPACES = { ",": " ", ";": " ", ":": " ", ">": " ", " ": " ", "!": "", quad: " ",
                 qquad: " " };
  var DROPPED = ["left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl",
                 "Bigr", "displaystyle", "textstyle", "limits", "nolimits", "nonumber",
                 "notag", "label", "tag"];
  var UNWRAP = ["mathbf", "mathrm", "mathit", "mathsf", "mathtt", "mathcal", "mathfrak",
                "boldsymbol", "bm", "text", "textrm", "textbf", "textit", "texttt",
                "operatorname", "mbox", "underbrace", "overbrace", "underline"];
  var ACCENTS = { hat: "\u0302", widehat: "\u0302", bar: "\u0304", overline: "\u0304",
                  tilde: "\u0303", widetilde: "\u0303", vec: "\u20d7", dot: "\u0307",
                  ddot: "\u0308" };
  var BRACKETS = { pmatrix: ["(", ")"], bmatrix: ["[", "]"], Bmatrix: ["{", "}"],
                   vmatrix: ["|", "|"], Vmatrix: ["‖", "‖"] };
  var SUPERSCRIPT = table("0123456789+-=()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾",
                          "abdeghijklmnoprstuvwxyz", "ᵃᵇᵈᵉᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻ",
                          "ABDEGHIJKLMNOPRTUW", "ᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁᵂ");
  var SUBSCRIPT = table("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎",
                        "aehijklmnoprstuvx", "ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ");

  function table() {
    var map = {};
    for (var k = 0; k < arguments.length; k += 2) {
      var from = Array.from(arguments[k]);
      var to = Array.from(arguments[k + 1]);
      from.forEach(function (c, n) { map[c] = to[n]; });
    }
    return map;
  }

  function has(map, key) {
    return Object.prototype.hasOwnProperty.call(map, key);
  }

  // One argument of a command or of ^ and _: a {group}, a \command or one character.
  function readArgument(tex, i) {
    while (i < tex.length && /\s/.test(tex[i])) i++;
    if (tex[i] === "{") {
      var depth = 0;
      for (var j = i; j < tex.length; j++) {
        if (tex[j] === "\\") { j++; continue; }
        if (tex[j] === "{") depth++;
        if (tex[j] === "}" && --depth === 0) return [tex.slice(i + 1, j), j + 1];
      }
      return [tex.slice(i + 1), tex.length];  // unbalanced: take the rest
    }
    if (tex[i] === "\\") {
      var m = /^\\([A-Za-z]+|.)/.exec(tex.slice(i));
      return m ? [m[0], i + m[0].length] : ["", i + 1];
    }
    return [tex[i] || "", i + 1];
  }

  // A sub- or superscript, or a fraction's part: bare when it is one symbol.
  function grouped(text) {
    if (/^[^\s+\-−×·/=,;()[\]{}]+$/u.test(text)) return text;  // no space, no operator
    if (/^\(.*\)$/.test(text)) return text;
    return "(" + text + ")";
  }

  function script(text, table, mark) {
    if (text === "ᵀ" && mark === "^") return "ᵀ";
    var chars = Array.from(text);
    if (chars.length && chars.every(function (c) { return has(table, c); })) {
      return chars.map(function (c) { return table[c]; }).join("");
    }
    return mark + grouped(text);
  }

  function texToText(tex) {
    var out = "";
    var i = 0;
    while (i < tex.length) {
      var c = tex[i];
      if (c === "\\") {
        var m = /^\\([A-Za-z]+|.)/.exec(tex.slice(i)) || ["\\", ""];
        var name = m[1];
        i += m[0].length;
        var arg;
        if (has(SPACES, name)) out += SPACES[name];
        else if (name === "\\") out += "; ";
        else if (name === "{" || name === "}" || name === "|" || name === "&" ||
                 name === "%" || name === "$" || name === "_" || name === "#") {
          out += name === "|" ? "‖" : name;
        } else if (DROPPED.indexOf(name) >= 0) {
          if (name === "label" || name === "tag") i = readArgument(tex, i)[1];
          else if ((name === "left" || name === "right") && tex[i] === ".") i++;
        } else if (UNWRAP.indexOf(name) >= 0) {
          arg = readArgument(tex, i);
          out += texToText(arg[0]);
          i = arg[1];
        } else if (has(ACCENTS, name)) {
          arg = readArgument(tex, i);
          var base = texToText(arg[0]).trim();
          out += Array.from(base).length === 1 ? base + ACCENTS[name] : base;
          i = arg[1];
        } else if (name === "mathbb") {
          arg = readArgument(tex, i);
          out += has(BLACKBOARD, arg[0].trim()) ? BLACKBOARD[arg[0].trim()] : arg[0];
          i = arg[1];
        } else if (name === "frac" || name === "dfrac" || name === "tfrac") {
          var num = readArgument(tex, i);
          var den = readArgument(tex, num[1]);
          out += grouped(texToText(num[0]).trim()) + "/" +
                 grouped(texToText(den[0]).trim());
          i = den[1];
        } else if (name === "sqrt") {
          if (tex[i] === "[") i = tex.indexOf("]", i) + 1 || tex.length;
          arg = readArgument(tex, i);
          out += "√" + grouped(texToText(arg[0]).trim());
          i = arg[1];
        } else if (name === "begin" || name === "end") {
          arg = readArgument(tex, i);
          var env = arg[0].replace("*", "");
          i = arg[1];
          if (name === "begin" && env === "array") i = readArgument(tex, i)[1];
          if (has(BRACKETS, env)) out += BRACKETS[env][name === "begin" ? 0 : 1];
          else out += " ";
        } else if (has(SYMBOLS, name)) {
          out += SYMBOLS[name];
        } else {
          out += name;  // \log, \exp, \max, \softmax, ...: the name reads well
        }
      } else if (c === "^" || c === "_") {
        arg = readArgument(tex, i + 1);
        out += script(texToText(arg[0]).trim(), c === "^" ? SUPERSCRIPT : SUBSCRIPT, c);
        i = arg[1];
      } else if (c === "{" || c === "}") {
        i++;  // a bare group: its content is read on
      } else if (c === "&" || c === "~") {
        out += " ";
        i++;
      } else {
        out += c;
        i++;
      }
    }
    return out;
  }

  // The text of one math element: TeX source with its delimiters -> plain text.
  function mathToText(source) {
    var tex = source.trim()
      .replace(/^\\\(|\\\)$/g, "")
      .replace(/^\\\[|\\\]$/g, "")
      .replace(/^\$\$?|\$\$?$/g, "");
    return texToText(tex)
      .replace(/\s+/g, " ")
      .replace(/ ([,.;:])/g, "$1")
      .replace(/([([{]) /g, "$1")
      .replace(/ ([)\]}])/g, "$1")
      .trim();
  }

  // Search.htmlToText of Sphinx 7.4, with every math element written as plain text.
  function htmlToText(htmlString, anchor) {
    var doc = new DOMParser().parseFromString(htmlString, "text/html");
    [".headerlink", "script", "style"].forEach(function (query) {
      doc.querySelectorAll(query).forEach(function (el) { el.remove(); });
    });
    doc.querySelectorAll(".math").forEach(function (el) {
      var text = mathToText(el.textContent);
      el.textContent = el.tagName === "DIV" ? " " + text + " " : text;
    });
    if (anchor) {
      var block = doc.querySelector('[role="main"] ' + anchor);
      if (block) return block.textContent;
    }
    var main = doc.querySelector('[role="main"]');
    return main ? main.textContent : "";
  }

  window.searchMathToText = mathToText;  // for tests/browser/test_site.py
  document.addEventListener("DOMContentLoaded", function () {
    // searchtools.js defines Search (a global const) after this script has run.
    if (typeof Search !== "undefined" && Search.htmlToText) {
      Search.htmlToText = htmlToText;
    }
  });
})();
