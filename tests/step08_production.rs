//! Step 08: production-ready. Non-root, healthy, graceful on `docker stop`, fine when locked down.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod workshop;

#[test]
fn the_production_image_is_hardened() {
    workshop::run("08-production");
}
