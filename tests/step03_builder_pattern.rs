//! Step 03: the builder pattern. Two Dockerfiles and a script keep source and toolchain out.
//! The checks are listed in the step's step.toml; `cargo workshop check` runs the same ones.
mod support;
use support::Step;

#[tokio::test(flavor = "multi_thread")]
async fn the_run_image_holds_no_source_and_no_toolchain() {
    let step = Step::get("03-builder-pattern");
    let previous = step.previous().expect("a previous step").build();
    let image = step.build();
    image.assert_smaller_than(&previous);
    step.assert_checks_pass(image).await;
    step.assert_new_checks_catch(previous).await;
}
