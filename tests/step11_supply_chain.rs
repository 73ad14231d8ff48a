//! Step 11: what the image is made of. The binary carries its dependency list, and the
//! build exports an SBOM.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod workshop;

#[test]
fn the_binary_says_which_crates_it_contains() {
    workshop::run("11-supply-chain");
}
