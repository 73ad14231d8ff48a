//! Compose runs the final image locked down, its client started once it is healthy.
//! Runs workshop/tests/compose.rs (`cargo workshop` and the harness are a package of their own).
mod workshop;

#[test]
fn compose_runs_the_final_image_locked_down() {
    workshop::run("compose");
}
