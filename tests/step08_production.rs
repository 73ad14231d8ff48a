//! Step 08: production-ready. Non-root, healthy, graceful on `docker stop`, fine when locked down.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod support;

#[tokio::test(flavor = "multi_thread")]
async fn the_production_image_is_hardened() {
    support::Step::get("08-production").assert_teaches().await;
}

/// What `serves_locked_down` reads back differs without the flags: it can fail.
#[tokio::test(flavor = "multi_thread")]
async fn the_kernel_confirms_what_the_flags_change() {
    let image = support::Step::get("08-production").build();
    support::assertions::assert_the_kernel_confirms_the_flags(&image).await;
}
