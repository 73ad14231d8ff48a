//! Step 06: a static musl binary, alone in a scratch image.
mod support;
use support::{Image, Step};

#[tokio::test(flavor = "multi_thread")]
async fn a_static_binary_alone_in_scratch() {
    let image = Step::get("06-static-scratch").build();
    image.assert_pongs().await;
    image.assert_within_budget();
    image.assert_size_matches_the_book();
    image.assert(Image::binary_is_static);
    image.assert(Image::holds_only_the_binary);
    image.assert(Image::no_shell);

    let glibc = Step::get("05-dependency-cache").build();
    glibc.assert_caught_by(Image::binary_is_static);
    glibc.assert_caught_by(Image::holds_only_the_binary);
    glibc.assert_caught_by(Image::no_shell);
}
