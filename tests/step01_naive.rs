//! Step 01: one stage, everything in. The problem is real: toolchain, source and build tree ship.
mod support;
use support::{Image, Step};

#[tokio::test(flavor = "multi_thread")]
async fn the_naive_image_ships_toolchain_source_and_build_tree() {
    let image = Step::get("01-naive").build();
    image.assert_pongs().await;
    image.assert_within_budget();
    image.assert(Image::ships_toolchain_source_and_build_tree);
}
