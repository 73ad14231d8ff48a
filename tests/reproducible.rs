//! The final image's binary is reproducible: the same commit, built twice as on a new
//! machine (no build cache, cargo's cache mounts emptied), gives the same `/ping`, byte
//! for byte. The final image is the last step's (tests/layout.rs holds the top-level
//! Dockerfile equal to it), C code of its allocator included.
mod support;

#[test]
fn the_final_binary_is_the_same_when_built_twice_from_nothing() {
    let last = support::Step::all()
        .expect("the steps under steps/")
        .pop()
        .expect("at least one step");
    last.assert_the_binary_is_reproducible();
}
