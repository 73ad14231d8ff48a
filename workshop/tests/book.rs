//! The book cannot rot: it builds, every include resolves, code is included rather than
//! pasted, no measured number is typed by hand, and generated files are fresh.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use workshop::book;
use workshop::tool::GENERATE;
use workshop::{Must, Step, repo_root};

fn src() -> PathBuf {
    repo_root().join("book/src")
}

/// The hand-written chapters (not generated files), with their text.
fn chapters() -> Vec<(PathBuf, String)> {
    let mut chapters: Vec<(PathBuf, String)> = std::fs::read_dir(src())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect();
    chapters.sort();
    chapters
}

/// `{{#include path}}` or `{{#include path:anchor}}` directives of a text.
fn includes(text: &str) -> Vec<(String, Option<String>)> {
    text.match_indices("{{#include ")
        .filter_map(|(start, _)| {
            let rest = &text[start + "{{#include ".len()..];
            let inner = rest.split("}}").next()?.trim();
            let (path, anchor) = match inner.rsplit_once(':') {
                Some((path, anchor)) => (path.to_string(), Some(anchor.to_string())),
                None => (inner.to_string(), None),
            };
            Some((path, anchor))
        })
        .collect()
}

#[test]
fn generated_files_are_fresh() {
    let stale: Vec<String> = book::render_all()
        .must()
        .into_iter()
        .filter(|file| {
            std::fs::read_to_string(repo_root().join(&file.path))
                .ok()
                .as_deref()
                != Some(file.content.as_str())
        })
        .map(|file| file.path.display().to_string())
        .collect();
    assert!(
        stale.is_empty(),
        "generated files are stale or missing: {}\nRegenerate them: {GENERATE}",
        stale.join(", ")
    );
}

#[test]
fn the_charts_are_svgs_a_browser_can_show() {
    for chart in ["ladder.svg", "compare.svg"] {
        let svg = std::fs::read_to_string(src().join("generated").join(chart)).unwrap();
        // An XML comment may not contain "--" (as in `cargo run --example`): the browser would
        // refuse the whole file. The generator says where it comes from in <desc> instead.
        assert!(
            svg.starts_with("<svg "),
            "{chart} must start with its <svg> element"
        );
        assert!(
            !svg.contains("<!--"),
            "{chart} must not contain XML comments"
        );
        assert!(svg.trim_end().ends_with("</svg>"), "{chart} is incomplete");
    }
}

#[test]
fn every_step_has_a_chapter_in_the_summary() {
    let summary = std::fs::read_to_string(src().join("SUMMARY.md")).unwrap();
    for step in Step::all().must() {
        let slug = &step.slug;
        assert!(
            src().join(format!("{slug}.md")).is_file(),
            "steps/{slug} has no chapter book/src/{slug}.md"
        );
        assert!(
            summary.contains(&format!("({slug}.md)")),
            "book/src/SUMMARY.md does not list {slug}.md"
        );
    }
    for (path, _) in chapters() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            name == "SUMMARY.md" || summary.contains(&format!("({name})")),
            "SUMMARY.md does not list {name}"
        );
    }
}

#[test]
fn every_include_resolves_to_a_file_and_a_non_empty_anchor() {
    for (chapter, text) in chapters() {
        for (path, anchor) in includes(&text) {
            let target = chapter.parent().unwrap().join(&path);
            let content = std::fs::read_to_string(&target).unwrap_or_else(|_| {
                panic!(
                    "{}: includes {path}, which does not exist",
                    chapter.display()
                )
            });
            if let Some(anchor) = anchor {
                let start = format!("ANCHOR: {anchor}");
                let end = format!("ANCHOR_END: {anchor}");
                let (Some(from), Some(to)) = (content.find(&start), content.find(&end)) else {
                    panic!(
                        "{}: {path} has no anchor {anchor:?} (ANCHOR/ANCHOR_END)",
                        chapter.display()
                    );
                };
                let between = &content[from + start.len()..to];
                let lines = between
                    .lines()
                    .skip(1)
                    .filter(|line| !line.trim().is_empty())
                    .count();
                assert!(
                    lines > 1,
                    "{}: anchor {anchor:?} in {path} is empty",
                    chapter.display()
                );
            }
        }
    }
}

#[test]
fn code_blocks_are_included_never_pasted() {
    for (chapter, text) in chapters() {
        let mut in_block = false;
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_block = !in_block;
                continue;
            }
            if in_block {
                assert!(
                    line.trim().is_empty() || line.trim().starts_with("{{#include "),
                    "{}:{}: code is pasted into the chapter; include it from the file the tests run instead:\n  {line}",
                    chapter.display(),
                    number + 1
                );
            }
        }
    }
}

/// A number followed by a unit of size, time, or speed is a measurement: it must come
/// from a generated file, never be typed into a chapter.
#[test]
fn no_measured_number_is_typed_by_hand() {
    const UNITS: &[&str] = &[
        "B", "kB", "KB", "MB", "GB", "KiB", "MiB", "GiB", "ms", "s", "%", "x", "req/s", "seconds",
        "minutes",
    ];
    for (chapter, text) in chapters() {
        let bytes = text.as_bytes();
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index].is_ascii_digit()
                && (index == 0 || !bytes[index - 1].is_ascii_alphanumeric())
            {
                let mut end = index;
                while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
                    end += 1;
                }
                let after = text[end..].trim_start_matches(' ');
                let unit = after
                    .split(|c: char| !(c.is_ascii_alphabetic() || c == '%' || c == '/'))
                    .next()
                    .unwrap_or("");
                assert!(
                    !UNITS.contains(&unit),
                    "{}: \"{} {unit}\" looks like a measurement typed by hand; include it from book/src/generated/ instead",
                    chapter.display(),
                    &text[index..end],
                );
                index = end;
            }
            index += 1;
        }
    }
}

/// The book, built once per test run into a temporary folder, with mdBook's log.
fn built_book() -> &'static (PathBuf, String) {
    static BUILT: OnceLock<(PathBuf, String)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let out = std::env::temp_dir().join(format!("ping-workshop-book-{}", std::process::id()));
        let log = book::build_html(&repo_root().join("book"), &out)
            .unwrap_or_else(|message| panic!("{message}"));
        (out, log)
    })
}

/// Every built page, with its HTML.
fn pages() -> Vec<(PathBuf, String)> {
    let mut pages = Vec::new();
    collect_html(&built_book().0, &mut pages);
    pages.sort();
    pages
        .into_iter()
        .map(|page| {
            let html = std::fs::read_to_string(&page).unwrap();
            (page, html)
        })
        .collect()
}

#[test]
fn the_book_builds_with_working_internal_links() {
    let (out, log) = built_book();
    assert!(
        !log.contains("[WARN]") && !log.contains("WARN "),
        "mdbook build warned:\n{log}"
    );
    let pages = pages();
    assert!(
        pages.iter().any(|(page, _)| page.ends_with("print.html")),
        "the print page was not built in {}",
        out.display()
    );
    for (page, html) in &pages {
        assert!(
            !html.contains("{{#"),
            "{}: an mdBook directive was left unexpanded",
            page.display()
        );
        assert!(
            !html.contains("<code class=\"language-dockerfile\"></code>"),
            "{}: an empty code block",
            page.display()
        );
        for link in html
            .split("href=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
        {
            if link.contains("://")
                || link.starts_with('#')
                || link.starts_with("mailto:")
                || link.is_empty()
            {
                continue;
            }
            let target = link.split('#').next().unwrap();
            if target.is_empty() {
                continue;
            }
            let resolved = page.parent().unwrap().join(target);
            assert!(resolved.exists(), "{}: broken link {link}", page.display());
        }
    }
}

/// The text of every `<pre><code>` block of a page, as the reader sees it.
fn code_blocks(html: &str) -> Vec<String> {
    html.split("<pre><code")
        .skip(1)
        .filter_map(|rest| {
            let body = rest.split_once('>')?.1;
            let code = body.split("</code></pre>").next()?;
            Some(
                code.replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&#39;", "'")
                    .replace("&amp;", "&"),
            )
        })
        .collect()
}

/// A line longer than the content column scrolls sideways, and what scrolls away is
/// usually what matters: the image name at the end of a `docker run`, the target of a
/// `printf`. Caught here without a browser; the browser test measures the real thing.
#[test]
fn no_line_of_code_in_the_book_is_wider_than_the_page() {
    let mut too_wide = Vec::new();
    for (page, html) in pages() {
        if page.ends_with("print.html") {
            continue;
        }
        for block in code_blocks(&html) {
            for line in block.lines() {
                let width = line.chars().count();
                if width > book::CODE_COLUMNS {
                    too_wide.push(format!(
                        "{}: {width} characters: {line}",
                        page.file_name().unwrap().to_string_lossy()
                    ));
                }
            }
        }
    }
    assert!(
        too_wide.is_empty(),
        "lines wider than the book's {} columns (wrap them in the file the book includes):\n{}",
        book::CODE_COLUMNS,
        too_wide.join("\n")
    );
}

/// A runnable Rust block makes every reader's browser ask play.rust-lang.org for its
/// crate list: the book must work offline and contact nobody.
#[test]
fn no_code_block_is_sent_to_the_rust_playground() {
    for (page, html) in pages() {
        assert!(
            !html.contains("class=\"playground\""),
            "{}: a Rust block would run on the playground; mark it `rust,noplayground`",
            page.display()
        );
    }
}

/// "What changed since step NN" explains the instructions the diff changes, and no
/// others: a bullet that leads with an instruction the step did not touch teaches
/// something that happened in another step.
#[test]
fn what_changed_explains_only_instructions_the_step_changes() {
    const INSTRUCTIONS: &[&str] = &[
        "FROM",
        "RUN",
        "CMD",
        "LABEL",
        "EXPOSE",
        "ENV",
        "ADD",
        "COPY",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "ARG",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
    ];
    for pair in Step::all().must().windows(2) {
        let (previous, step) = (&pair[0], &pair[1]);
        let changed = book::changed_instructions(previous, step).must();
        let text = std::fs::read_to_string(src().join(format!("{}.md", step.slug))).unwrap();
        let Some((_, section)) = text.split_once("## What changed since") else {
            panic!("{}.md has no \"What changed since\" section", step.slug);
        };
        let section = section.split("\n## ").next().unwrap_or("");
        // The lead of each bullet: its first line up to the first ": " or end of sentence,
        // e.g. "**`USER`, a numeric user" or "**Exec form** for `ENTRYPOINT` and …".
        for lead in section
            .lines()
            .filter_map(|line| line.strip_prefix("- "))
            .map(|line| {
                [": ", ". ", ".**", ":**"]
                    .iter()
                    .filter_map(|end| line.find(end))
                    .min()
                    .map_or(line, |at| &line[..at])
            })
        {
            for word in lead.split('`').skip(1).step_by(2) {
                let first = word.split_whitespace().next().unwrap_or("");
                if INSTRUCTIONS.contains(&first) {
                    assert!(
                        changed.iter().any(|c| c == first),
                        "{}.md: \"What changed\" explains `{first}`, which the step does not \
                         change (it changes {changed:?})",
                        step.slug
                    );
                }
            }
        }
    }
}

fn collect_html(dir: &Path, pages: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_html(&path, pages);
        } else if path.extension().is_some_and(|ext| ext == "html") {
            pages.push(path);
        }
    }
}

/// Every file or folder of the repository a chapter names in backticks (`src/main.rs`,
/// `steps/02-slim-base/Dockerfile.dockerignore`, `.ci/run`) exists, and every `cargo
/// test --test NAME` it shows names a test: a renamed file cannot leave the text behind.
#[test]
fn every_file_and_test_a_chapter_names_exists() {
    const ROOTS: &[&str] = &[
        "src/",
        "steps/",
        "tests/",
        "book/",
        "examples/",
        ".ci/",
        ".cargo/",
    ];
    let mut missing = Vec::new();
    for (path, text) in chapters() {
        let chapter = path.file_name().unwrap().to_string_lossy().into_owned();
        for span in text.split('`').skip(1).step_by(2) {
            let words: Vec<&str> = span.split_whitespace().collect();
            for (at, word) in words.iter().enumerate() {
                if at > 0 && words[at - 1] == "--test" {
                    let name = word.trim_end_matches([',', '.', ';', ')']);
                    if !name.contains("NN")
                        && !repo_root().join(format!("tests/{name}.rs")).exists()
                    {
                        missing.push(format!("{chapter}: `cargo test --test {name}`"));
                    }
                }
                let named = word
                    .trim_start_matches("./")
                    .trim_end_matches([',', '.', ';', ')', ':']);
                // Placeholders and patterns stand for many files, not one.
                let placeholder = named.contains(['<', '*', '…', '$', '{'])
                    || named.contains("NN")
                    || named.contains("/yours/");
                if ROOTS.iter().any(|root| named.starts_with(root))
                    && !placeholder
                    && !repo_root().join(named).exists()
                {
                    missing.push(format!("{chapter}: `{named}`"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the book names files and tests that do not exist:\n{}",
        missing.join("\n")
    );
}

/// Every exercise file (`steps/<slug>/exercises/…`) is shown by its own chapter, with
/// the command that checks it, and is run by a learner test: what a chapter predicts of
/// a "wrong" file is what a test has seen it do.
#[test]
fn every_exercise_is_shown_by_its_chapter_and_run_by_a_test() {
    let learner = std::fs::read_to_string(repo_root().join("workshop/tests/learner.rs")).unwrap();
    let mut seen = 0;
    for step in Step::all().must() {
        let chapter = std::fs::read_to_string(src().join(format!("{}.md", step.slug))).unwrap();
        for file in step.exercise_files() {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let path = format!("steps/{}/exercises/{name}", step.slug);
            assert!(
                chapter.contains(&format!("{{{{#include ../../{path}}}}}")),
                "{}.md does not show its exercise {path}",
                step.slug
            );
            assert!(
                chapter.contains(&format!("cargo workshop check {} {path}", step.number)),
                "{}.md does not say how to check {path}",
                step.slug
            );
            assert!(
                learner.contains(&format!("exercise(\"{}\", \"{name}\")", step.slug)),
                "no test in workshop/tests/learner.rs runs {path} (exercise(\"{}\", \"{name}\"))",
                step.slug
            );
            // Checked as the chapter says, BuildKit reads the ignore file beside it; the
            // test checks a copy beside the step's own. The two must send the same.
            let ignore = step
                .dir
                .join("exercises")
                .join(format!("{name}.dockerignore"));
            let own = step.dir.join("Dockerfile.dockerignore");
            assert_eq!(
                std::fs::read_to_string(&ignore).ok(),
                std::fs::read_to_string(&own).ok(),
                "{path}.dockerignore must be a copy of steps/{}/Dockerfile.dockerignore",
                step.slug
            );
            seen += 1;
        }
    }
    assert!(seen > 0, "no exercise found under steps/*/exercises/");
}

/// Every alternative Dockerfile (`steps/<slug>/alternatives/…`) is shown by a chapter
/// and built by a test: what the book says of it is what a test has seen it do.
#[test]
fn every_alternative_is_shown_by_a_chapter_and_built_by_a_test() {
    let read_all = |dir: PathBuf, extension: &str| -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|found| found == extension) {
                text.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
        text
    };
    let chapters = read_all(src(), "md");
    let tests = read_all(repo_root().join("workshop/tests"), "rs")
        + &read_all(repo_root().join("workshop/src"), "rs");
    let mut seen = 0;
    for step in Step::all().must() {
        for file in step.alternative_files() {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let path = format!("steps/{}/alternatives/{name}", step.slug);
            assert!(
                chapters.contains(&format!("{{{{#include ../../{path}}}}}")),
                "no chapter shows {path}"
            );
            assert!(
                tests.contains(&format!("\"{path}\"")),
                "no test names {path}: which one builds it?"
            );
            seen += 1;
        }
    }
    assert!(seen > 0, "no alternative found under steps/*/alternatives/");
}
