//! Compose runs the final image as step 08 does: locked down with the same flags, and a
//! client that Compose starts only once the image's own HEALTHCHECK says the service is
//! healthy (`deploy/compose.yaml`, which the book shows).

use std::process::{Command, Output};

use workshop::hardening::Hardening;
use workshop::{Must, Step, docker, repo_root};

/// A Compose project of deploy/compose.yaml, with `image` as the service (None: the
/// file's own default), named for this test run; taken down (containers and network)
/// when dropped.
struct Project {
    name: String,
    image: Option<String>,
}

impl Project {
    fn of(case: &str, image: Option<&str>) -> Project {
        Project {
            name: format!("ping-workshop-compose-{case}-{}", std::process::id()),
            image: image.map(str::to_string),
        }
    }

    fn compose(&self, args: &[&str]) -> Command {
        let file = repo_root().join("deploy/compose.yaml");
        let mut command = docker::command(&["compose", "--ansi", "never", "--progress", "plain"]);
        command
            .arg("-f")
            .arg(file)
            .args(["-p", &self.name])
            .args(args)
            .env_remove("PING_IMAGE")
            .current_dir(repo_root());
        if let Some(image) = &self.image {
            command.env("PING_IMAGE", image);
        }
        command
    }

    /// `docker compose up`, until the client has exited (then the service is stopped).
    fn up(&self) -> Output {
        self.compose(&["up", "--exit-code-from", "client"])
            .output()
            .unwrap_or_else(|error| panic!("cannot run `docker compose`: {error}"))
    }

    /// What Docker recorded for the project's `ping` container.
    fn service_hardening(&self) -> Hardening {
        let listed = self
            .compose(&["ps", "--all", "--quiet", "ping"])
            .output()
            .must_run("docker compose ps");
        let id = String::from_utf8_lossy(&listed.stdout).trim().to_string();
        assert!(!id.is_empty(), "Compose lists no ping container");
        let json = docker::ok(&["inspect", "--format", "{{json .HostConfig}}", &id]).must();
        let host_config: testcontainers::bollard::models::HostConfig =
            serde_json::from_str(&json).unwrap_or_else(|error| panic!("HostConfig: {error}"));
        Hardening::recorded(&host_config)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self
            .compose(&["down", "--volumes", "--remove-orphans", "--timeout", "5"])
            .output();
    }
}

trait MustRun {
    fn must_run(self, what: &str) -> Output;
}

impl MustRun for std::io::Result<Output> {
    fn must_run(self, what: &str) -> Output {
        let output = self.unwrap_or_else(|error| panic!("cannot run `{what}`: {error}"));
        assert!(
            output.status.success(),
            "`{what}` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn compose_starts_the_client_once_the_final_image_is_healthy_and_runs_it_locked_down() {
    let last = Step::all().must().pop().expect("the steps");
    let image = last.build();
    // The file as the book shows it, its own default image: the final one.
    let file = std::fs::read_to_string(repo_root().join("deploy/compose.yaml")).unwrap();
    assert!(
        file.contains(&format!("image: ${{PING_IMAGE:-{}}}", image.tag)),
        "deploy/compose.yaml's default image is not the final one, {}",
        image.tag
    );
    let project = Project::of("final", None);
    let output = project.up();
    let said = text(&output);
    assert!(
        output.status.success() && said.contains("PONG"),
        "`docker compose up` with {}: the client did not get PONG:\n{said}",
        image.tag
    );
    assert!(
        said.contains("ping: stopped"),
        "Compose stopped the service, which must stop gracefully:\n{said}"
    );
    assert_eq!(
        project.service_hardening(),
        Hardening::production(),
        "deploy/compose.yaml must run the service with the flags the checks run it with"
    );
}

/// The same file with step 07's image, which has no HEALTHCHECK: Compose refuses to
/// start the client rather than guess when the service is ready.
#[test]
fn compose_refuses_a_dependency_without_a_healthcheck() {
    let image = Step::get("07-size-profile").build();
    let project = Project::of("no-healthcheck", Some(&image.tag));
    let output = project.up();
    let said = text(&output);
    assert!(
        !output.status.success() && said.contains("has no healthcheck configured"),
        "`docker compose up` with {} (no HEALTHCHECK) must refuse the client:\n{said}",
        image.tag
    );
    assert!(
        !said.contains("PONG"),
        "the client ran against a service nobody said was ready:\n{said}"
    );
}
