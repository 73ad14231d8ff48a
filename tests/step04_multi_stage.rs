//! Step 04: a multi-stage build. One Dockerfile does what step 03 needed a script for.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod support;

#[tokio::test(flavor = "multi_thread")]
async fn one_dockerfile_builds_and_packages_without_source_or_toolchain() {
    support::Step::get("04-multi-stage").assert_teaches().await;
}
