//! What the steps teach, as named checks. A step lists its checks in its `step.toml`
//! (`checks`, and `new`: the ones the previous step must fail); its test,
//! `cargo workshop check` and the book all read those lists, so a learner's
//! Dockerfile meets exactly what the reference meets.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::running::{self, Running};
use super::{Image, MB, Step};

/// What a check found wrong, and a hint at the idea (not the answer).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub found: String,
    pub hint: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n  hint: {}", self.found, self.hint)
    }
}

pub fn problem<T>(found: impl Into<String>, hint: impl Into<String>) -> Result<T, Problem> {
    Err(Problem {
        found: found.into(),
        hint: hint.into(),
    })
}

/// A check passed; what it measured, if anything worth showing (a size, a time).
pub type Passed = Option<String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    AnswersPong,
    WithinBudget,
    ShipsToolchainSourceAndBuildTree,
    NoBuildContextJunk,
    NoSource,
    NoToolchain,
    CopiesFromABuildStage,
    ReusesTheDependencyLayer,
    BinaryIsStatic,
    HoldsOnlyTheBinary,
    NoShell,
    NoSetuidFiles,
    RunsAsNumericNonRootUser,
    ExecFormEntrypointAndHealthcheck,
    HasOciLabels,
    ServesLockedDown,
    BecomesHealthy,
    StopsGracefully,
}

impl Check {
    /// The name used in step.toml.
    pub fn name(self) -> &'static str {
        match self {
            Check::AnswersPong => "answers_pong",
            Check::WithinBudget => "within_budget",
            Check::ShipsToolchainSourceAndBuildTree => "ships_toolchain_source_and_build_tree",
            Check::NoBuildContextJunk => "no_build_context_junk",
            Check::NoSource => "no_source",
            Check::NoToolchain => "no_toolchain",
            Check::CopiesFromABuildStage => "copies_from_a_build_stage",
            Check::ReusesTheDependencyLayer => "reuses_the_dependency_layer",
            Check::BinaryIsStatic => "binary_is_static",
            Check::HoldsOnlyTheBinary => "holds_only_the_binary",
            Check::NoShell => "no_shell",
            Check::NoSetuidFiles => "no_setuid_files",
            Check::RunsAsNumericNonRootUser => "runs_as_numeric_non_root_user",
            Check::ExecFormEntrypointAndHealthcheck => "exec_form_entrypoint_and_healthcheck",
            Check::HasOciLabels => "has_oci_labels",
            Check::ServesLockedDown => "serves_locked_down",
            Check::BecomesHealthy => "becomes_healthy",
            Check::StopsGracefully => "stops_gracefully",
        }
    }

    /// What the check proves, as one line of a report or of the book.
    pub fn says(self) -> &'static str {
        match self {
            Check::AnswersPong => "the container answers `GET /ping` with `200 PONG`",
            Check::WithinBudget => "the image stays within the step's size budget",
            Check::ShipsToolchainSourceAndBuildTree => {
                "the image holds the toolchain, the source and the build tree (the problem is real)"
            }
            Check::NoBuildContextJunk => {
                "no `.git`, `target`, `tests`, `book`, `steps` or `.ci` from the build context"
            }
            Check::NoSource => "no Rust source and no `Cargo.toml` in the image",
            Check::NoToolchain => "no `cargo`, `rustc` or `rustup` in the image",
            Check::CopiesFromABuildStage => {
                "one Dockerfile: the final stage copies the binary `--from` a build stage"
            }
            Check::ReusesTheDependencyLayer => {
                "after a source-only change the dependency build is `CACHED`, and the rebuilt image answers `PONG`"
            }
            Check::BinaryIsStatic => "the binary is static: no ELF interpreter, no shared library",
            Check::HoldsOnlyTheBinary => "the image holds the service binary and nothing else",
            Check::NoShell => "there is no shell in the image",
            Check::NoSetuidFiles => "there are no setuid or setgid files",
            Check::RunsAsNumericNonRootUser => "`USER` is numeric and not root",
            Check::ExecFormEntrypointAndHealthcheck => {
                "`ENTRYPOINT` and `HEALTHCHECK` in exec form, the binary checking itself"
            }
            Check::HasOciLabels => "OCI labels: title, description, source, licenses",
            Check::ServesLockedDown => {
                "it serves under the hardened `docker run` flags, as its `USER`'s uid and gid"
            }
            Check::BecomesHealthy => "Docker reports the container `healthy`",
            Check::StopsGracefully => {
                "`docker stop` answers the request in flight and exits with code 0 within 2 s"
            }
        }
    }

    /// Runs the check on `image` with the facts (budget) of `step`, the step checking.
    pub async fn run(self, step: &Step, image: &Image) -> Result<Passed, Problem> {
        let done = |result: Result<(), Problem>| result.map(|()| None);
        match self {
            Check::AnswersPong => answers_pong(image).await.map(|_| None),
            Check::WithinBudget => within_budget(step, image),
            Check::ShipsToolchainSourceAndBuildTree => {
                done(image.ships_toolchain_source_and_build_tree())
            }
            Check::NoBuildContextJunk => done(image.no_build_context_junk()),
            Check::NoSource => done(image.no_source()),
            Check::NoToolchain => done(image.no_toolchain()),
            Check::CopiesFromABuildStage => done(image.copies_from_a_build_stage()),
            Check::ReusesTheDependencyLayer => reuses_the_dependency_layer(image).await,
            Check::BinaryIsStatic => done(image.binary_is_static()),
            Check::HoldsOnlyTheBinary => done(image.holds_only_the_binary()),
            Check::NoShell => done(image.no_shell()),
            Check::NoSetuidFiles => done(image.no_setuid_files()),
            Check::RunsAsNumericNonRootUser => done(image.runs_as_numeric_non_root_user()),
            Check::ExecFormEntrypointAndHealthcheck => {
                done(image.exec_form_entrypoint_and_healthcheck())
            }
            Check::HasOciLabels => done(image.has_oci_labels()),
            Check::ServesLockedDown => serves_locked_down(image).await,
            Check::BecomesHealthy => becomes_healthy(image).await,
            Check::StopsGracefully => stops_gracefully(image).await,
        }
    }
}

/// One check's result in a report.
pub struct Outcome {
    pub check: Check,
    pub result: Result<Passed, Problem>,
    pub took: Duration,
}

/// Runs `checks` one after the other. A check that panics (Docker failing under it,
/// say) becomes a failed outcome with the panic's message: a report is always whole.
pub async fn run_all(step: &Step, image: Arc<Image>, checks: &[Check]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for &check in checks {
        let (step, image) = (step.clone(), image.clone());
        let started = std::time::Instant::now();
        let result = tokio::spawn(async move { check.run(&step, &image).await })
            .await
            .unwrap_or_else(|error| {
                let message = match error.try_into_panic() {
                    Ok(payload) => panic_message(payload.as_ref()),
                    Err(error) => error.to_string(),
                };
                problem(
                    format!("the check could not run: {message}"),
                    "fix what the message names, then check again",
                )
            });
        outcomes.push(Outcome {
            check,
            result,
            took: started.elapsed(),
        });
    }
    outcomes
}

pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Starts the image and asks for PONG. Explains the classic ways a container never
/// answers: a shell-form command in an image without a shell, a binary whose loader
/// is missing, a service listening on another port.
pub async fn answers_pong(image: &Image) -> Result<Running, Problem> {
    start_checked(image, running::request(&image.tag)).await
}

/// Starts the image with the hardened `docker run` flags the book shows for production.
async fn start_locked_down(image: &Image) -> Result<Running, Problem> {
    start_checked(image, running::hardened(running::request(&image.tag))).await
}

async fn start_checked(
    image: &Image,
    request: testcontainers::ContainerRequest<testcontainers::GenericImage>,
) -> Result<Running, Problem> {
    image.runs_without_a_missing_shell()?;
    let running = match Running::try_start(request).await {
        Ok(running) => running,
        Err(mut problem) => {
            // "no such file or directory" for a file that is there: its ELF loader is not.
            if let Some((binary, loader)) = image.missing_loader() {
                problem.hint = format!(
                    "{binary} is dynamically linked: it needs the loader {loader} and a C library, \
                     which this image does not have, and the kernel reports that as \"no such file \
                     or directory\". Build a static binary (the musl target), or use a base image with libc"
                );
            }
            return Err(problem);
        }
    };
    match running.get("/ping").await {
        Ok((200, body)) if body == "PONG" => Ok(running),
        Ok((status, body)) => problem(
            format!("GET /ping answered {status} {body:?}"),
            "is the container running the workshop's service, built from src/?",
        ),
        Err(error) => problem(
            format!("GET /ping failed: {error}"),
            "the service answered once and then stopped: look at the container's logs",
        ),
    }
}

fn within_budget(step: &Step, image: &Image) -> Result<Passed, Problem> {
    let Some((budget, source)) = step.budget() else {
        return problem(
            format!("step {} sets no [budget] in its step.toml", step.slug),
            "a step that checks within_budget needs a budget",
        );
    };
    let size = image.size_bytes();
    if size <= budget {
        return Ok(Some(format!(
            "{:.1} MB of {:.1} MB",
            size as f64 / MB,
            budget as f64 / MB
        )));
    }
    problem(
        format!(
            "{} is {:.1} MB, over step {}'s budget of {:.1} MB ({source})",
            image.tag,
            size as f64 / MB,
            step.slug,
            budget as f64 / MB
        ),
        step.facts
            .budget
            .as_ref()
            .and_then(|budget| budget.hint.clone())
            .unwrap_or_else(|| "what in the image does the service not need at run time?".into()),
    )
}

async fn reuses_the_dependency_layer(image: &Image) -> Result<Passed, Problem> {
    let rebuilt = image
        .step
        .try_rebuild_after_source_change()
        .map_err(|failed| Problem {
            found: format!(
                "the rebuild after a source-only change failed: {}",
                failed.error
            ),
            hint: failed.hint,
        })?;
    rebuilt.reused_the_dependency_layer()?;
    // The classic mistake ships the placeholder main, which exits at once: PONG catches it.
    answers_pong(&rebuilt).await.map_err(|mut problem| {
        problem.found = format!("after the source-only rebuild: {}", problem.found);
        problem
    })?;
    Ok(Some("dependency build CACHED, source rebuilt".into()))
}

async fn serves_locked_down(image: &Image) -> Result<Passed, Problem> {
    let running = start_locked_down(image).await?;
    let (uid, gid) = running.process_uid_gid();
    let user = image.config()["User"].as_str().unwrap_or("").to_string();
    let declared: Vec<u32> = user.split(':').filter_map(|id| id.parse().ok()).collect();
    if uid == 0 {
        return problem(
            format!("the service runs as uid {uid}, gid {gid}: root"),
            "which user should the process run as? Docker takes it from the image's USER",
        );
    }
    if declared.first() != Some(&uid) || declared.get(1).is_some_and(|&g| g != gid) {
        return problem(
            format!("the service runs as uid {uid}, gid {gid}, but USER is {user:?}"),
            "set USER to the numeric uid:gid the service runs as",
        );
    }
    Ok(Some(format!("as uid {uid}, gid {gid}")))
}

async fn becomes_healthy(image: &Image) -> Result<Passed, Problem> {
    if image.config()["Healthcheck"]["Test"].is_null() {
        return problem(
            "the image has no HEALTHCHECK, so Docker never reports it healthy",
            "scratch has no curl: how can the service check itself?",
        );
    }
    let running = start_locked_down(image).await?;
    let took = running.try_wait_healthy(Duration::from_secs(30)).await?;
    Ok(Some(format!(
        "healthy {:.1} s after answering",
        took.as_secs_f64()
    )))
}

async fn stops_gracefully(image: &Image) -> Result<Passed, Problem> {
    let running = start_locked_down(image).await?;
    let (answer, stopped) = running.stop_with_a_request_in_flight().await;
    let took = format!("{:.2} s", stopped.took.as_secs_f64());
    if !(answer.starts_with("HTTP/1.1 200") && answer.ends_with("PONG")) {
        return problem(
            format!("the request in flight during `docker stop` got {answer:?}"),
            "a graceful server finishes the requests it has before it exits",
        );
    }
    if stopped.exit_code != 0 || stopped.took > Duration::from_secs(2) {
        return problem(
            format!(
                "`docker stop` took {took} and the exit code was {}",
                stopped.exit_code
            ),
            "docker stop sends SIGTERM to PID 1 and kills after 10 s: is the binary PID 1 \
             (exec form), and does it stop on SIGTERM?",
        );
    }
    Ok(Some(format!("{took}, exit code 0, request answered")))
}
