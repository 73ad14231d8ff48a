//! Step 13: publish it. One index for amd64 and arm64 pushed to a registry on this
//! machine, the same digests rebuilt from nothing, signed and attested with cosign,
//! traced to its commit, and run by digest.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod workshop;

#[test]
fn one_signed_reproducible_index_for_two_platforms() {
    workshop::run("13-publish");
}
