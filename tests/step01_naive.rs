//! Step 01: one stage, everything in. The problem is real: toolchain, source and build tree ship.
//! The checks are listed in the step's step.toml; `cargo workshop check` runs the same ones.
mod support;
use support::Step;

#[tokio::test(flavor = "multi_thread")]
async fn the_naive_image_ships_toolchain_source_and_build_tree() {
    let step = Step::get("01-naive");
    let image = step.build();
    step.assert_checks_pass(image).await;
}
