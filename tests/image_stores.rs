//! One size, whatever the image store: containerd's and the classic one.
//! Runs workshop/tests/image_stores.rs (`cargo workshop` and the harness are a package of their own).
mod workshop;

#[test]
#[ignore = "starts a second dockerd: needs root on a Linux Docker host (CI runs it)"]
fn one_size_on_both_image_stores() {
    workshop::run("image_stores");
}
