// Dockerfile highlighting for mdBook, whose bundled highlight.js lacks the grammar.
// Registers a small `dockerfile` language and highlights the blocks that use it.
//
// An instruction (FROM, RUN, COPY, ...) is a keyword only where an instruction starts:
// at the beginning of a line that does not continue the one before. Its arguments run
// to the end of the first line that does not end in a backslash, so `add` in `rustup target add`
// or a `copy` on a continuation line is never taken for an instruction, and numbers
// (the 1.95 of an image tag) are left alone.
(function () {
  if (typeof hljs === "undefined") return;
  var INSTRUCTIONS =
    "from run cmd label maintainer expose env add copy entrypoint volume user " +
    "workdir arg onbuild stopsignal healthcheck shell";
  hljs.registerLanguage("dockerfile", function (hljs) {
    var argumentsMode = {
      end: /\n/,
      contains: [
        // A backslash at the end of a line continues the instruction on the next one.
        { begin: /\\\n/ },
        hljs.APOS_STRING_MODE,
        hljs.QUOTE_STRING_MODE,
        { className: "variable", begin: /\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/ },
        { className: "meta", begin: /(^|\s)--[a-z-]+(=\S*)?/ }
      ]
    };
    return {
      name: "Dockerfile",
      aliases: ["docker"],
      case_insensitive: true,
      contains: [
        { className: "comment", begin: /^[ \t]*#/, end: /$/ },
        {
          className: "keyword",
          begin: new RegExp("^[ \\t]*(" + INSTRUCTIONS.split(" ").join("|") + ")\\b", "i"),
          starts: argumentsMode
        }
      ]
    };
  });
  document.querySelectorAll("code.language-dockerfile").forEach(function (block) {
    if (hljs.highlightElement) {
      block.removeAttribute("data-highlighted");
      hljs.highlightElement(block);
    } else {
      hljs.highlightBlock(block);
    }
    block.classList.add("hljs");
  });
})();
