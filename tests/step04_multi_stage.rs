//! Step 04: a multi-stage build. One Dockerfile does what step 03 needed a script for.
//! The checks are listed in the step's step.toml; `cargo workshop check` runs the same ones.
mod support;
use support::Step;

#[tokio::test(flavor = "multi_thread")]
async fn one_dockerfile_builds_and_packages_without_source_or_toolchain() {
    let step = Step::get("04-multi-stage");
    let previous = step.previous().expect("a previous step").build();
    let image = step.build();
    step.assert_checks_pass(image).await;
    step.assert_new_checks_catch(previous).await;
}
