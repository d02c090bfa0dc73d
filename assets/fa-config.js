// The theme's Font Awesome JS swaps <i> icons for <svg>; ipywidgets' Play button keeps a
// reference to its <i> and throws once it is replaced. 'nest' keeps the <i> in place.
window.FontAwesomeConfig = { autoReplaceSvg: "nest" };
