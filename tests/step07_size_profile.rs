//! Step 07: a size-tuned cargo profile. The same scratch image, a smaller binary.
mod support;
use support::{Image, Step};

#[tokio::test(flavor = "multi_thread")]
async fn the_dist_profile_makes_the_binary_smaller() {
    let plain = Step::get("06-static-scratch").build();
    let image = Step::get("07-size-profile").build();
    image.assert_pongs().await;
    image.assert_within_budget();
    image.assert_size_matches_the_book();
    image.assert_smaller_than(&plain);
    image.assert(Image::binary_is_static);
    image.assert(Image::holds_only_the_binary);
}
