//! Step 03: the builder pattern. Two Dockerfiles and a script keep source and toolchain out.
mod support;
use support::{Image, Step};

#[tokio::test(flavor = "multi_thread")]
async fn the_run_image_holds_no_source_and_no_toolchain() {
    let slim = Step::get("02-slim-base").build();
    let image = Step::get("03-builder-pattern").build();
    image.assert_pongs().await;
    image.assert_within_budget();
    image.assert(Image::no_source);
    image.assert(Image::no_toolchain);
    slim.assert_caught_by(Image::no_source);
    slim.assert_caught_by(Image::no_toolchain);
}
