//! Step 08: production-ready. Non-root, healthy, graceful on `docker stop`, fine when locked down.
//! The checks are listed in the step's step.toml; `cargo workshop check` runs the same ones.
mod support;
use support::Step;

#[tokio::test(flavor = "multi_thread")]
async fn the_production_image_is_hardened() {
    let step = Step::get("08-production");
    let previous = step.previous().expect("a previous step").build();
    let image = step.build();
    image.assert_size_matches_the_book();
    step.assert_checks_pass(image).await;
    step.assert_new_checks_catch(previous).await;
}
