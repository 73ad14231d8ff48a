//! The book as a reader sees it: every page in Chromium at 1280 px, in the light theme
//! and the dark one a dark system gets (navy), and the chart in every dark theme. Each
//! page must load without a JavaScript error, show no code block or table wider than the
//! content column, keep the chart's text readable (contrast at least 4.5:1), highlight
//! Dockerfile instructions only where they start, and contact no one but the book's own
//! server. Searching for `scratch` must find step 06.
//!
//! It needs Chromium (Debian's `chromium`), so `cargo test` lists it as ignored with the
//! command that runs it; `.ci/run` runs it. `BOOK=path/to/book` checks another book
//! folder (an older commit's, say) with the same rules.
#[path = "browser/reader.rs"]
mod reader;

use std::path::PathBuf;

use reader::{BookServer, COMMAND, Reader};
use workshop::{book, repo_root};

/// The themes every page is read in: mdBook's default, and the dark theme a reader
/// whose system prefers dark gets (book.toml's preferred-dark-theme).
const THEMES: &[&str] = &["light", "navy"];
/// Pages with a chart are read in every dark theme too: a chart is what vanishes there.
const DARK_THEMES: &[&str] = &["coal", "navy", "ayu"];
/// Pages a person looks at after a run, saved under target/book-screenshots/.
const SCREENSHOTS: &[&str] = &[
    "introduction.html",
    "before-you-start.html",
    "04-multi-stage.html",
    "06-static-scratch.html",
    "07-size-profile.html",
    "08-production.html",
    "10-cross-platform.html",
    "results.html",
    "go-to-rust.html",
    "12-allocator.html",
    "13-publish.html",
    "sign-and-run.html",
];

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Chromium: cargo test --test browser -- --ignored"]
async fn every_page_reads_well_in_light_and_dark_themes() {
    let source = std::env::var_os("BOOK")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("book"));
    let built = std::env::temp_dir().join(format!("ping-book-browser-{}", std::process::id()));
    book::build_html(&source, &built).unwrap_or_else(|message| panic!("{message}"));
    let mut pages: Vec<String> = std::fs::read_dir(&built)
        .unwrap()
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().to_string())
        // toc.html is the sidebar's frame for browsers without JavaScript, not a page.
        .filter(|name| name.ends_with(".html") && name != "toc.html")
        .collect();
    pages.sort();
    let server = BookServer::start(built.clone()).await;
    let reader = Reader::launch()
        .await
        .unwrap_or_else(|message| panic!("{message}\n(run: {COMMAND})"));
    let shots = repo_root().join("target/book-screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    let mut broken = Vec::new();
    let mut themes: Vec<&str> = THEMES.to_vec();
    themes.extend(DARK_THEMES.iter().filter(|t| !THEMES.contains(t)));
    for theme in &themes {
        reader
            .choose_theme(&server.origin, theme)
            .await
            .unwrap_or_else(|message| panic!("{message}"));
        for page in &pages {
            let html = std::fs::read_to_string(built.join(page)).unwrap();
            let has_chart = html.contains("<svg class=\"ladder") || html.contains(".svg\"");
            if !THEMES.contains(theme) && !has_chart {
                continue;
            }
            let url = format!("{}/{page}", server.origin);
            let reading = reader
                .read(&server.origin, &url, theme)
                .await
                .unwrap_or_else(|message| panic!("{page} [{theme}]: {message}"));
            for finding in reading.findings {
                broken.push(format!(
                    "{page} [{theme}] {}: {} — {}",
                    finding.rule, finding.element, finding.detail
                ));
            }
            for error in reading.errors {
                broken.push(format!("{page} [{theme}] no JavaScript error: {error}"));
            }
            for request in reading.outside {
                broken.push(format!(
                    "{page} [{theme}] no request leaves the machine: {request}"
                ));
            }
            if SCREENSHOTS.contains(&page.as_str()) && THEMES.contains(theme) {
                let file = shots.join(format!("{}-{theme}.png", page.trim_end_matches(".html")));
                reader
                    .screenshot(&file)
                    .await
                    .unwrap_or_else(|message| panic!("screenshot {}: {message}", file.display()));
            }
        }
    }

    let results = reader
        .search(&format!("{}/introduction.html", server.origin), "scratch")
        .await
        .unwrap_or_else(|message| panic!("search: {message}"));
    if !results
        .iter()
        .any(|link| link.contains("06-static-scratch.html"))
    {
        broken.push(format!(
            "search: \"scratch\" does not find 06-static-scratch.html (results: {results:?})"
        ));
    }
    reader.close().await;
    drop(server);
    let _ = std::fs::remove_dir_all(&built);

    println!(
        "read {} pages in {} themes; screenshots in {}",
        pages.len(),
        themes.len(),
        shots.display()
    );
    assert!(
        broken.is_empty(),
        "{} problems a reader would meet:\n{}",
        broken.len(),
        broken.join("\n")
    );
}
