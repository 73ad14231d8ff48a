//! Step 03: the builder pattern. Two Dockerfiles and a script keep source and toolchain out.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod support;

#[tokio::test(flavor = "multi_thread")]
async fn the_run_image_holds_no_source_and_no_toolchain() {
    support::Step::get("03-builder-pattern")
        .assert_teaches()
        .await;
}
