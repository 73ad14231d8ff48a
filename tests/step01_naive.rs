//! Step 01: one stage, everything in. The problem is real: toolchain, source and build tree ship.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod workshop;

#[test]
fn the_naive_image_ships_toolchain_source_and_build_tree() {
    workshop::run("01-naive");
}
