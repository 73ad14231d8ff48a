//! Step 04: a multi-stage build. One Dockerfile does what step 03 needed a script for.
mod support;
use support::{Image, Step};

#[tokio::test(flavor = "multi_thread")]
async fn the_final_stage_holds_no_source_and_no_toolchain() {
    let slim = Step::get("02-slim-base").build();
    let image = Step::get("04-multi-stage").build();
    image.assert_pongs().await;
    image.assert_within_budget();
    image.assert_smaller_than(&slim);
    image.assert(Image::no_source);
    image.assert(Image::no_toolchain);
    slim.assert_caught_by(Image::no_toolchain);
    slim.assert_caught_by(Image::no_source);
}
