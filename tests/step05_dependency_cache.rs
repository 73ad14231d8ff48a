//! Step 05: dependencies in their own layer. A source-only change reuses it from the cache.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod workshop;

#[test]
fn a_source_change_reuses_the_dependency_layer() {
    workshop::run("05-dependency-cache");
}
