//! Step 12: a faster allocator. mimalloc takes musl's malloc's place, its C code
//! cross-compiled by clang for either platform.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod workshop;

#[test]
fn the_binary_allocates_with_mimalloc() {
    workshop::run("12-allocator");
}
