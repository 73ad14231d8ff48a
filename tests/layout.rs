//! Drift checks that need no Docker: steps, tests and the top-level Dockerfile agree.
//! Runs workshop/tests/layout.rs (`cargo workshop` and the harness are a package of their own).
mod workshop;

#[test]
fn steps_tests_and_the_book_agree() {
    workshop::run("layout");
}
