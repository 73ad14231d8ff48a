//! Step 05: dependencies in their own layer. A source-only change reuses it from the cache.
//! The checks are listed in the step's step.toml; `cargo workshop check` runs the same ones.
mod support;
use support::Step;

#[tokio::test(flavor = "multi_thread")]
async fn a_source_change_reuses_the_dependency_layer() {
    let step = Step::get("05-dependency-cache");
    let previous = step.previous().expect("a previous step").build();
    let image = step.build();
    step.assert_checks_pass(image).await;
    step.assert_new_checks_catch(previous).await;
}
