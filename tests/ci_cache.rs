//! The next day's CI cache: a fresh runner gets what `--cache-to` exported and nothing else.
//! Runs workshop/tests/ci_cache.rs (`cargo workshop` and the harness are a package of their own).
mod workshop;

#[test]
#[ignore = "it prunes BuildKit records other tests reuse: CI runs it after the suite"]
fn a_fresh_ci_runner_gets_only_the_exported_cache() {
    workshop::run("ci_cache");
}
