//! Step 06: a static musl binary, alone in a scratch image.
//! Its checks and size comparisons are listed in its step.toml; `cargo workshop check`
//! runs the same checks on a learner's file.
mod workshop;

#[test]
fn a_static_binary_alone_in_scratch() {
    workshop::run("06-static-scratch");
}
