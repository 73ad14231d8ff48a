//! deploy/kubernetes.yaml: valid, admitted under the restricted profile, run as the tests run.
//! Runs workshop/tests/kubernetes.rs (`cargo workshop` and the harness are a package of their own).
mod workshop;

#[test]
fn the_manifest_runs_the_image_as_the_tests_do() {
    workshop::run("kubernetes");
}
