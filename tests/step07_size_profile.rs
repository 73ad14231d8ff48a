//! Step 07: a size-tuned cargo profile. The same scratch image, a smaller binary.
//! The checks are listed in the step's step.toml; `cargo workshop check` runs the same ones.
mod support;
use support::Step;

#[tokio::test(flavor = "multi_thread")]
async fn the_dist_profile_makes_the_binary_smaller() {
    let step = Step::get("07-size-profile");
    let previous = step.previous().expect("a previous step").build();
    let image = step.build();
    image.assert_size_matches_the_book();
    image.assert_smaller_than(&previous);
    step.assert_checks_pass(image).await;
    step.assert_new_checks_catch(previous).await;
}
