//! Step 02: a slim base and a .dockerignore. Smaller, and no repository clutter inside.
mod support;
use support::{Image, Step};

#[tokio::test(flavor = "multi_thread")]
async fn the_slim_image_gets_only_what_the_build_needs() {
    let naive = Step::get("01-naive").build();
    let image = Step::get("02-slim-base").build();
    image.assert_pongs().await;
    image.assert_within_budget();
    image.assert_smaller_than(&naive);
    image.assert(Image::no_build_context_junk);
    naive.assert_caught_by(Image::no_build_context_junk);
}
