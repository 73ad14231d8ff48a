//! Every test of the workshop (workshop/tests/), the way plain `cargo test` runs them:
//! compiled once, the files that need no Docker first, then two lanes side by side
//! (tests/workshop/mod.rs). cargo runs this file first; the root files after it report
//! what it found. Each of them also runs its file alone when named: `cargo test --test
//! learner`, `cargo test --test step04_multi_stage`.
mod workshop;

#[test]
fn every_workshop_test_passes() {
    workshop::run_all();
}
