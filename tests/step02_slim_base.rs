//! Step 02: a slim base and a .dockerignore. Smaller, and no repository clutter inside.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod workshop;

#[test]
fn the_slim_image_gets_only_what_the_build_needs() {
    workshop::run("02-slim-base");
}
