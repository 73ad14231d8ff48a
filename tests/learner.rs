//! Learner mode: a learner's broken Dockerfiles and what they are told; doctor, progress.
//! Runs workshop/tests/learner.rs (`cargo workshop` and the harness are a package of their own).
mod workshop;

#[test]
fn a_learner_sees_what_to_fix() {
    workshop::run("learner");
}
