//! Step 08: production-ready. Non-root, healthy, graceful on `docker stop`, fine when locked down.
mod support;
use std::time::Duration;
use support::running::{self, Running};
use support::{Image, Step};

#[tokio::test(flavor = "multi_thread")]
async fn the_production_image_is_hardened() {
    let image = Step::get("08-production").build();
    image.assert_within_budget();
    image.assert_size_matches_the_book();
    image.assert(Image::runs_as_numeric_non_root_user);
    image.assert(Image::exec_form_entrypoint_and_healthcheck);
    image.assert(Image::has_oci_labels);
    image.assert(Image::binary_is_static);
    image.assert(Image::holds_only_the_binary);
    image.assert(Image::no_shell);
    image.assert(Image::no_setuid_files);

    // Locked down as production should run it: still serves, as uid and gid 65532.
    let locked_down = Running::start(running::hardened(running::request(&image.tag))).await;
    locked_down.assert_pongs().await;
    assert_eq!(
        locked_down.process_uid_gid(),
        (65532, 65532),
        "uid and gid of the running service"
    );
    let healthy_after = locked_down.wait_healthy(Duration::from_secs(30)).await;
    println!("healthy {healthy_after:.1?} after the service answered");

    // `docker stop`: fast, exit code 0, and the request in flight still gets its answer.
    let (answer, stopped) = locked_down.stop_with_a_request_in_flight().await;
    println!(
        "docker stop took {:.2?}, exit code {}",
        stopped.took, stopped.exit_code
    );
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("PONG"),
        "the request in flight got {answer:?}"
    );
    assert_eq!(stopped.exit_code, 0, "exit code after docker stop");
    assert!(
        stopped.took < Duration::from_secs(2),
        "docker stop took {:?}",
        stopped.took
    );

    let unhardened = Step::get("07-size-profile").build();
    unhardened.assert_caught_by(Image::runs_as_numeric_non_root_user);
}
