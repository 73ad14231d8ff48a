//! Step 10: cross-platform images. The same Dockerfile builds for amd64 and for arm64,
//! the build stage native, and the arm64 image answers under emulation.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod workshop;

#[test]
fn one_dockerfile_builds_for_amd64_and_arm64() {
    workshop::run("10-cross-platform");
}
