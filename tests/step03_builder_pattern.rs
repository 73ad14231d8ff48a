//! Step 03: the builder pattern. Two Dockerfiles and a script keep source and toolchain out.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod workshop;

#[test]
fn the_run_image_holds_no_source_and_no_toolchain() {
    workshop::run("03-builder-pattern");
}
