//! Step 04: a multi-stage build. One Dockerfile does what step 03 needed a script for.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod workshop;

#[test]
fn one_dockerfile_builds_and_packages_without_source_or_toolchain() {
    workshop::run("04-multi-stage");
}
