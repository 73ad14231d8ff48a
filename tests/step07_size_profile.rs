//! Step 07: a size-tuned cargo profile. The same scratch image, a smaller binary.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod workshop;

#[test]
fn the_dist_profile_makes_the_binary_smaller() {
    workshop::run("07-size-profile");
}
