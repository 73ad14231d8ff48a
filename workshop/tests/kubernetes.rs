//! deploy/kubernetes.yaml, the manifest chapter 13 deploys the published image with: valid
//! for Kubernetes' own schemas, admitted under the Pod Security Standard "restricted",
//! and the run it asks for is the run the tests make: the final image, started with
//! the docker flags the manifest implies, serves, answers its probes, runs as the
//! manifest's user with nothing more, and stops within its grace period.

use testcontainers::ImageExt;
use workshop::kubernetes::Manifest;
use workshop::running::{Running, hardened_as, request};
use workshop::{Must, Step};

/// An image reference of the published kind (by digest), for the manifest's placeholder.
const BY_DIGEST: &str = "localhost:5050/workshop/ping@sha256:\
                         0000000000000000000000000000000000000000000000000000000000000000";

#[test]
fn the_manifest_is_valid_for_kubernetes_schemas() {
    let manifest = Manifest::read(BY_DIGEST).must();
    let said = workshop::kubernetes::validate_schemas(&manifest).must();
    assert!(
        said.is_ok(),
        "kubernetes-validate refused {}: {said:?}",
        workshop::kubernetes::MANIFEST
    );
    // The validator can refuse: a field of the wrong type, and one Kubernetes has not.
    for (what, from, to) in [
        (
            "a uid written as text",
            "runAsUser: 65532",
            "runAsUser: \"65532\"",
        ),
        (
            "a misspelt field",
            "readOnlyRootFilesystem",
            "readOnlyRootFileSystem",
        ),
    ] {
        let broken = Manifest::parse(&manifest.text.replacen(from, to, 1)).must();
        let said = workshop::kubernetes::validate_schemas(&broken).must();
        assert!(
            said.as_ref()
                .is_err_and(|why| why.contains("did not validate")),
            "kubernetes-validate did not refuse {what} for its schema: {said:?}"
        );
        println!("as expected, kubernetes-validate refuses {what}");
    }
}

#[test]
fn the_manifest_is_admitted_under_the_restricted_profile() {
    let manifest = Manifest::read(BY_DIGEST).must();
    let violations = manifest.restricted_violations().must();
    assert!(
        violations.is_empty(),
        "the restricted profile forbids: {violations:#?}"
    );
    // Each control can fail: one line of the manifest changed, one violation found.
    // What the profile allows must pass too: SELinux's user and role empty.
    let empty_selinux = Manifest::parse(&manifest.text.replacen(
        "allowPrivilegeEscalation: false",
        "allowPrivilegeEscalation: false\n            seLinuxOptions:\n              user: \"\"\n              role: \"\"",
        1,
    ))
    .must();
    assert!(
        empty_selinux.restricted_violations().must().is_empty(),
        "seLinuxOptions with an empty user and role is allowed"
    );
    for (from, to, control) in [
        (
            "allowPrivilegeEscalation: false",
            "allowPrivilegeEscalation: true",
            "privilege escalation",
        ),
        (
            "runAsNonRoot: true",
            "runAsNonRoot: false",
            "running as non-root",
        ),
        (
            "runAsUser: 65532",
            "runAsUser: 0",
            "running as non-root user",
        ),
        ("type: RuntimeDefault", "type: Unconfined", "seccomp"),
        ("drop: [\"ALL\"]", "drop: [\"NET_RAW\"]", "capabilities"),
        (
            "automountServiceAccountToken: false",
            "hostNetwork: true",
            "host namespaces",
        ),
        (
            "readOnlyRootFilesystem: true",
            "privileged: true",
            "privileged",
        ),
        (
            "containerPort: 8080",
            "containerPort: 8080\n              hostPort: 8080",
            "host ports",
        ),
        (
            "automountServiceAccountToken: false",
            "automountServiceAccountToken: false\n      volumes:\n        - name: host\n          hostPath:\n            path: /",
            "volume types",
        ),
        (
            "runAsNonRoot: true",
            "runAsNonRoot: true\n        sysctls:\n          - name: kernel.msgmax\n            value: \"65536\"",
            "sysctls",
        ),
        (
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesystem: true\n            procMount: Unmasked",
            "/proc mount type",
        ),
        (
            "drop: [\"ALL\"]",
            "drop: [\"ALL\"]\n              add: [\"SYS_ADMIN\"]",
            "capabilities",
        ),
        (
            "allowPrivilegeEscalation: false",
            "allowPrivilegeEscalation: false\n            appArmorProfile:\n              type: Unconfined",
            "AppArmor",
        ),
        (
            "allowPrivilegeEscalation: false",
            "allowPrivilegeEscalation: false\n            seLinuxOptions:\n              type: spc_t",
            "SELinux",
        ),
        (
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesystem: true\n            windowsOptions:\n              hostProcess: true",
            "HostProcess",
        ),
        (
            "allowPrivilegeEscalation: false",
            "allowPrivilegeEscalation: false\n            seccompProfile:\n              type: Unconfined",
            "seccomp",
        ),
    ] {
        assert!(
            manifest.text.contains(from),
            "the manifest no longer has {from:?}"
        );
        let broken = Manifest::parse(&manifest.text.replacen(from, to, 1)).must();
        let found = broken.restricted_violations().must();
        assert!(
            found.iter().any(|violation| violation.starts_with(control)),
            "with {to:?} the profile check found {found:?}, not {control:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_runs_as_the_manifest_says() {
    let manifest = Manifest::read(BY_DIGEST).must();
    let flags = manifest.docker_flags().must();
    println!("the manifest, as docker run flags: {}", flags.join(" "));
    let (hardening, user) = manifest.hardening().must();
    let image = Step::get("13-publish").build();
    let running =
        Running::try_start(hardened_as(request(&image.tag), hardening.clone()).with_user(&user))
            .await
            .must();
    assert_eq!(running.recorded_hardening().await.must(), hardening);
    let kernel = running.kernel_status().await.must();
    assert_eq!(format!("{}:{}", kernel.uid, kernel.gid), user, "{kernel:?}");
    assert!(
        kernel.no_capabilities() && kernel.no_new_privs == 1,
        "{kernel:?}"
    );
    for probe in ["readinessProbe", "livenessProbe"] {
        let path = manifest.probe_path(probe).must();
        let (status, body) = running.get(&path).await.must_answer(&path);
        assert_eq!((status, body.as_str()), (200, "PONG"), "{probe} GET {path}");
    }
    let grace = manifest.grace_seconds().must();
    // Endpoints drain while the pod is told to stop: it waits before SIGTERM, and the
    // grace period covers that wait and the service's own stop.
    let wait = manifest.pre_stop_seconds().must();
    assert!(
        wait >= 1,
        "no preStop wait: new requests reach the pod after SIGTERM"
    );
    let stopped = running.stop().await.must();
    assert!(
        stopped.exit_code == 0 && stopped.took.as_secs() + wait < grace,
        "a stop took {:?} (exit {}) after the {wait} s preStop wait: more than the \
         manifest's grace period of {grace} s",
        stopped.took,
        stopped.exit_code
    );
    println!(
        "as {user}, PONG on both probes; stopped in {:.2} s, {wait} s after preStop, of \
         {grace} s, exit 0",
        stopped.took.as_secs_f64()
    );
}

/// A probe's answer, or the test fails saying which path did not answer.
trait MustAnswer {
    fn must_answer(self, path: &str) -> (u16, String);
}

impl MustAnswer for Result<(u16, String), reqwest::Error> {
    fn must_answer(self, path: &str) -> (u16, String) {
        self.unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }
}
