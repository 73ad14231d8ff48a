//! Judges the workshop did not write (hadolint, container-structure-test, dive, syft,
//! crane), run against its Dockerfiles and its final image.
//! Runs workshop/tests/judges.rs (`cargo workshop` and the harness are a package of their own).
mod workshop;

#[test]
fn tools_of_the_field_agree_with_the_checks() {
    workshop::run("judges");
}
