//! Step 09: cache mounts. One RUN, no placeholder: a change to the source or to the
//! manifests recompiles the service alone.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod workshop;

#[test]
fn a_change_recompiles_only_what_it_touches() {
    workshop::run("09-cache-mounts");
}
