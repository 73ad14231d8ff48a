//! Step 06: a static musl binary, alone in a scratch image.
//! The checks are listed in the step's step.toml; `cargo workshop check` runs the same ones.
mod support;
use support::Step;

#[tokio::test(flavor = "multi_thread")]
async fn a_static_binary_alone_in_scratch() {
    let step = Step::get("06-static-scratch");
    let previous = step.previous().expect("a previous step").build();
    let image = step.build();
    image.assert_size_matches_the_book();
    image.assert_smaller_than(&previous);
    step.assert_checks_pass(image).await;
    step.assert_new_checks_catch(previous).await;
}
