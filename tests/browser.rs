//! The book as a reader sees it: every page in Chromium, light and dark, no sideways
//! scrolling, no JavaScript error, no request leaving the machine.
//! Runs workshop/tests/browser.rs (`cargo workshop` and the harness are a package of their own).
mod workshop;

#[test]
#[ignore = "needs Chromium: cargo test --test browser -- --ignored"]
fn the_book_reads_well_in_a_browser() {
    workshop::run("browser");
}
