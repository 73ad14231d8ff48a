//! The harness's own unit tests: the parts of the library that need no Docker.
//! Runs workshop/tests/harness.rs (`cargo workshop` and the harness are a package of their own).
mod workshop;

#[test]
fn the_harness_reads_what_it_reads_right() {
    workshop::run("harness");
}
