// What the browser test asks of one page, as the reader's browser laid it out.
// Evaluated in the page by tests/browser.rs; returns findings, each a broken rule
// with the element that broke it. An empty list everywhere is a page that reads well.
(async () => {
  const findings = [];
  const found = (rule, element, detail) => findings.push({ rule, element, detail });
  const describe = (el) => {
    const text = (el.textContent || "").trim().replace(/\s+/g, " ");
    const tag = el.tagName.toLowerCase() + (el.className && typeof el.className === "string"
      ? "." + el.className.trim().split(/\s+/).join(".") : "");
    return tag + " \"" + text.slice(0, 60) + (text.length > 60 ? "…" : "") + "\"";
  };

  // --- Colours (WCAG 2 contrast ratio) ---------------------------------------------
  const probe = document.createElement("canvas").getContext("2d");
  const parse = (colour) => {
    if (!colour || colour === "none" || colour === "transparent") return null;
    if (!/^rgba?\(/.test(colour)) {
      probe.fillStyle = "#000";
      probe.fillStyle = colour; // named and hex colours, normalised by the browser
      colour = probe.fillStyle;
      if (colour.startsWith("#")) {
        const n = parseInt(colour.slice(1), 16);
        return { r: n >> 16, g: (n >> 8) & 255, b: n & 255, a: 1 };
      }
    }
    const parts = colour.replace(/^rgba?\(|\)$/g, "").split(/[\s,\/]+/).filter(Boolean).map(Number);
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const luminance = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
  const show = (c) => "rgb(" + [c.r, c.g, c.b].map(Math.round).join(", ") + ")";
  // The first opaque thing under a point, skipping what `skip` says is not background:
  // an SVG shape's fill, or an HTML element's background colour.
  const backgroundAt = (x, y, skip) => {
    for (const el of document.elementsFromPoint(x, y)) {
      if (skip(el)) continue;
      if (el instanceof SVGElement) {
        if (el instanceof SVGGeometryElement) {
          const fill = parse(getComputedStyle(el).fill);
          if (fill && fill.a > 0) return fill;
        }
        continue;
      }
      const bg = parse(getComputedStyle(el).backgroundColor);
      if (bg && bg.a > 0) return bg;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const checkContrast = (label, fg, bg, element) => {
    const r = ratio(fg, bg);
    if (r < 4.5) {
      found("chart text contrast at least 4.5:1", element,
        "\"" + label + "\": " + show(fg) + " on " + show(bg) + " is " + r.toFixed(2) + ":1");
    }
  };

  const main = document.querySelector("main");
  // Folded solutions (<details>) are measured open: a closed one has no width at all, and
  // a reader who opens it must not meet a line that scrolls sideways.
  for (const details of document.querySelectorAll("details")) details.open = true;
  if (!main) {
    found("the page has content", "main", "no <main> element");
    return findings;
  }

  // --- Charts: inline SVG text against what is really behind it ---------------------
  for (const text of main.querySelectorAll("svg text")) {
    const box = text.getBoundingClientRect();
    if (box.width === 0) continue;
    text.scrollIntoView({ block: "center" });
    const now = text.getBoundingClientRect();
    const fg = parse(getComputedStyle(text).fill);
    const bg = backgroundAt(now.left + now.width / 2, now.top + now.height / 2,
      (el) => el === text || el.tagName.toLowerCase() === "svg" || el.tagName.toLowerCase() === "tspan");
    checkContrast(text.textContent, fg || { r: 0, g: 0, b: 0, a: 1 }, bg, "svg text");
  }
  // An SVG shown as an <img> keeps its own colours whatever the theme: its text is read
  // from the file (fill attributes, black by default) against the page behind the image.
  for (const img of main.querySelectorAll("img")) {
    if (!/\.svg(\?|$)/.test(img.getAttribute("src") || "")) continue;
    const source = await (await fetch(img.src)).text();
    const svg = new DOMParser().parseFromString(source, "image/svg+xml");
    // A first <rect> as wide as the drawing is the chart's own background.
    const first = svg.querySelector("svg > rect");
    const root = svg.documentElement;
    const width = first && first.getAttribute("width");
    const covers = width && (width === "100%" || width === root.getAttribute("width")
      || width === (root.getAttribute("viewBox") || "").split(/[\s,]+/)[2]);
    img.scrollIntoView({ block: "center" });
    const box = img.getBoundingClientRect();
    const behind = covers ? parse(first.getAttribute("fill"))
      : backgroundAt(box.left + box.width / 2, box.top + box.height / 2, (el) => el === img);
    for (const text of svg.querySelectorAll("text")) {
      const owner = text.closest("[fill]");
      const fg = parse(owner ? owner.getAttribute("fill") : "black");
      checkContrast(text.textContent, fg, behind, "img[src=\"" + img.getAttribute("src") + "\"] text");
    }
  }

  // --- Nothing wider than the content column ----------------------------------------
  const column = main.getBoundingClientRect();
  for (const el of main.querySelectorAll("pre, pre > code, .table-wrapper, table")) {
    const box = el.getBoundingClientRect();
    if (el.scrollWidth > el.clientWidth + 1) {
      let widest = "";
      for (const line of (el.innerText || "").split("\n")) if (line.length > widest.length) widest = line;
      found("no sideways scrolling", describe(el),
        "content " + el.scrollWidth + " px in a box of " + el.clientWidth + " px; widest line: " + widest);
    } else if (box.right > column.right + 1) {
      found("no sideways scrolling", describe(el),
        "right edge at " + Math.round(box.right) + " px, the column ends at " + Math.round(column.right) + " px");
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1) {
    found("no sideways scrolling", "the page", "the page is " + document.documentElement.scrollWidth
      + " px wide in a " + window.innerWidth + " px window");
  }

  // --- Dockerfiles: instructions are keywords only where an instruction starts -------
  const instructions = ["FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
    "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL"];
  for (const code of main.querySelectorAll("code.language-dockerfile")) {
    if (!code.querySelector(".hljs-keyword")) {
      found("Dockerfiles are highlighted", describe(code), "no instruction is highlighted");
    }
    for (const number of code.querySelectorAll(".hljs-number")) {
      found("Dockerfiles are highlighted", describe(code),
        "\"" + number.textContent + "\" is coloured as a number");
    }
    for (const keyword of code.querySelectorAll(".hljs-keyword")) {
      const range = document.createRange();
      range.setStart(code, 0);
      range.setEndBefore(keyword);
      const before = range.toString();
      const lines = before.split("\n");
      const line = lines[lines.length - 1];
      const previous = lines.length > 1 ? lines[lines.length - 2] : "";
      const word = keyword.textContent.trim().toUpperCase();
      if (line.trim() !== "" || /\\\s*$/.test(previous) || !instructions.includes(word)) {
        found("Dockerfiles are highlighted", describe(code),
          "\"" + keyword.textContent.trim() + "\" is coloured as an instruction in: "
          + (line + keyword.textContent).trim());
      }
    }
  }
  return findings;
})()
