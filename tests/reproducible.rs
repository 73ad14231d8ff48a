//! The final image's binary is reproducible: the same commit, built twice as on a new
//! machine (no build cache, cargo's cache mounts emptied), gives the same `/ping`, byte
//! for byte. The top-level Dockerfile is step 11's (tests/layout.rs holds them equal).
mod support;

#[test]
fn the_final_binary_is_the_same_when_built_twice_from_nothing() {
    support::Step::get("11-supply-chain").assert_the_binary_is_reproducible();
}
