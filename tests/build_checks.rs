//! BuildKit's own build checks find nothing in any reference Dockerfile.
//! Runs workshop/tests/build_checks.rs (`cargo workshop` and the harness are a package of their own).
mod workshop;

#[test]
fn buildkits_build_checks_find_nothing() {
    workshop::run("build_checks");
}
