//! Step 02: a slim base and a .dockerignore. Smaller, and no repository clutter inside.
//! The checks are listed in the step's step.toml; `cargo workshop check` runs the same ones.
mod support;
use support::Step;

#[tokio::test(flavor = "multi_thread")]
async fn the_slim_image_gets_only_what_the_build_needs() {
    let step = Step::get("02-slim-base");
    let previous = step.previous().expect("a previous step").build();
    let image = step.build();
    image.assert_smaller_than(&previous);
    step.assert_checks_pass(image).await;
    step.assert_new_checks_catch(previous).await;
}
