// Dockerfile highlighting for mdBook, whose bundled highlight.js lacks the grammar.
// Registers a small `dockerfile` language and highlights the blocks that use it.
(function () {
  if (typeof hljs === "undefined") return;
  hljs.registerLanguage("dockerfile", function (hljs) {
    return {
      name: "Dockerfile",
      aliases: ["docker"],
      case_insensitive: true,
      keywords: {
        keyword:
          "from as run cmd label maintainer expose env add copy entrypoint volume user " +
          "workdir arg onbuild stopsignal healthcheck shell"
      },
      contains: [
        hljs.HASH_COMMENT_MODE,
        hljs.APOS_STRING_MODE,
        hljs.QUOTE_STRING_MODE,
        hljs.NUMBER_MODE,
        { className: "variable", begin: /\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/ },
        { className: "meta", begin: /--[a-z-]+(=\S*)?/ }
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
