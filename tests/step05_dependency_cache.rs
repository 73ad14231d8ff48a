//! Step 05: dependencies in their own layer. A source-only change reuses it from the cache.
mod support;
use support::{Image, Step};

#[tokio::test(flavor = "multi_thread")]
async fn a_source_change_reuses_the_dependency_layer() {
    let step = Step::get("05-dependency-cache");
    let image = step.build();
    image.assert_pongs().await;
    image.assert_within_budget();

    let rebuilt = step.rebuild_after_source_change();
    rebuilt.assert(Image::reused_the_dependency_layer);
    // The classic mistake ships the placeholder main, which exits at once: PONG catches it.
    rebuilt.assert_pongs().await;

    let multi_stage = Step::get("04-multi-stage").rebuild_after_source_change();
    multi_stage.assert_caught_by(Image::reused_the_dependency_layer);
}
