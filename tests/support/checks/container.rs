//! Checks that run a container of the image and talk to it.

use std::time::Duration;

use super::super::error::{Error, Result, found};
use super::super::image::Image;
use super::super::running::{self, Hardening, InFlightStop, Running, STOPPING};
use super::Passed;
use testcontainers::ImageExt;

/// Starts the image and asks for PONG. Explains the classic ways a container never
/// answers: a shell-form command in an image without a shell, a binary whose loader
/// is missing, a service listening on another port.
pub async fn answers_pong(image: &Image) -> Result<Running> {
    start_checked(image, running::request(&image.tag)).await
}

/// Starts the image with the hardened `docker run` flags the book shows for production.
pub(super) async fn start_locked_down(image: &Image) -> Result<Running> {
    start_checked(image, running::hardened(running::request(&image.tag))).await
}

async fn start_checked(
    image: &Image,
    request: testcontainers::ContainerRequest<testcontainers::GenericImage>,
) -> Result<Running> {
    super::config::runs_without_a_missing_shell(image)?;
    let running = match Running::try_start(request).await {
        Ok(running) => running,
        Err(error) => {
            // "no such file or directory" for a file that is there: its ELF loader is not.
            if let Some((binary, loader)) = image.missing_loader() {
                return Err(error.with_hint(format!(
                    "{binary} is dynamically linked: it needs the loader {loader} and a C library, \
                     which this image does not have, and the kernel reports that as \"no such file \
                     or directory\". Build a static binary (the musl target), or use a base image with libc"
                )));
            }
            return Err(error);
        }
    };
    match running.get("/ping").await {
        Ok((200, body)) if body == "PONG" => Ok(running),
        Ok((status, body)) => found(
            format!("GET /ping answered {status} {body:?}"),
            "is the container running the workshop's service, built from src/?",
        ),
        Err(error) => found(
            format!("GET /ping failed: {error}"),
            "the service answered once and then stopped: look at the container's logs",
        ),
    }
}

pub async fn serves_locked_down(image: &Image) -> Result<Passed> {
    let running = start_locked_down(image).await?;
    // As the kernel sees the process inside the container: `docker top` shows the host's
    // ids, which differ under user-namespace remapping.
    let kernel = running.kernel_status().await?;
    let (uid, gid) = (kernel.uid, kernel.gid);
    let user = image.config().user.unwrap_or_default();
    let declared: Vec<u32> = user.split(':').filter_map(|id| id.parse().ok()).collect();
    if uid == 0 {
        return found(
            format!("the service runs as uid {uid}, gid {gid}: root"),
            "which user should the process run as? Docker takes it from the image's USER",
        );
    }
    if gid == 0 || kernel.groups.contains(&0) {
        return found(
            format!(
                "the service runs as uid {uid}, gid {gid}, groups {:?}: in root's group",
                kernel.groups
            ),
            "which group should the process run in? USER uid:gid sets both",
        );
    }
    if declared.first() != Some(&uid) || declared.get(1).is_some_and(|&g| g != gid) {
        return found(
            format!("the service runs as uid {uid}, gid {gid}, but USER is {user:?}"),
            "set USER to the numeric uid:gid the service runs as",
        );
    }
    let asked = Hardening::production();
    let recorded = running.recorded_hardening().await?;
    if recorded != asked {
        return Err(Error::Harness(format!(
            "Docker recorded {recorded:?} for the container, but the flags asked for {asked:?}"
        )));
    }
    if kernel.no_new_privs != 1 || !kernel.no_capabilities() || kernel.seccomp != 2 {
        return found(
            format!(
                "the kernel runs the service with NoNewPrivs {}, CapEff {}, CapPrm {}, CapBnd {}, \
                 CapAmb {}, Seccomp {}; locked down is NoNewPrivs 1, every capability set 0, \
                 Seccomp 2",
                kernel.no_new_privs,
                kernel.cap_eff,
                kernel.cap_prm,
                kernel.cap_bnd,
                kernel.cap_amb,
                kernel.seccomp
            ),
            "are the flags --cap-drop ALL and --security-opt no-new-privileges given, and does \
             Docker run with its default seccomp profile (`docker info` lists seccomp)?",
        );
    }
    Ok(Some(format!(
        "as uid {uid}, gid {gid}, no supplementary group; NoNewPrivs 1, no capability in any \
         set (CapBnd 0: dropped), Seccomp 2"
    )))
}

/// The service's thread bound (src/main.rs): the main thread, two workers, one thread
/// of the blocking pool.
const MAX_THREADS: u64 = 4;
/// The pids limit `bounds_its_threads` runs under: far below the 65 threads tokio's
/// default (a worker per CPU) would start on a 64-CPU host.
const FEW_PIDS: i64 = 8;

pub async fn bounds_its_threads(image: &Image) -> Result<Passed> {
    let hardening = Hardening {
        pids_limit: Some(FEW_PIDS),
        ..Hardening::production()
    };
    let request = running::hardened_as(running::request(&image.tag), hardening.clone());
    let running = start_checked(image, request).await?;
    let threads = running.kernel_status().await?.threads;
    if threads > MAX_THREADS {
        return found(
            format!("the service runs {threads} threads, more than {MAX_THREADS}"),
            "tokio starts a worker per CPU unless told otherwise: does the environment set \
             PING_WORKERS, or does the runtime ignore the bound?",
        );
    }
    running.try_wait_healthy(Duration::from_secs(30)).await?;
    drop(running);
    // On a small machine tokio's own default (a worker per CPU) stays inside the bound
    // too: asked for one worker, an idle service must run its main thread and that one.
    let request = running::hardened_as(
        running::request(&image.tag).with_env_var("PING_WORKERS", "1"),
        hardening,
    );
    let one_worker = start_checked(image, request).await?;
    let with_one = one_worker.kernel_status().await?.threads;
    if with_one > 2 {
        return found(
            format!(
                "with PING_WORKERS=1 the idle service runs {with_one} threads, not 2 (its main \
                 thread and one worker)"
            ),
            "does the runtime take its worker count from the service (worker_threads), or \
             does tokio pick one per CPU?",
        );
    }
    Ok(Some(format!(
        "{threads} threads, {with_one} with PING_WORKERS=1; healthy under --pids-limit {FEW_PIDS}"
    )))
}

pub async fn becomes_healthy(image: &Image) -> Result<Passed> {
    if image
        .config()
        .healthcheck
        .and_then(|health| health.test)
        .is_none()
    {
        return found(
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

pub async fn stops_gracefully(image: &Image) -> Result<Passed> {
    let running = start_locked_down(image).await?;
    let InFlightStop {
        signalled,
        answer,
        stopped,
    } = running.stop_with_a_request_in_flight().await?;
    let took = format!("{:.2} s", stopped.took.as_secs_f64());
    let how = format!("`docker stop` took {took}, exit code {}", stopped.exit_code);
    if !signalled {
        return found(
            format!(
                "the service never printed {STOPPING:?} after `docker stop` sent SIGTERM ({how})"
            ),
            "docker stop sends SIGTERM to PID 1, and a PID 1 without a handler ignores it: is the \
             binary PID 1 (exec form), and does the service install its SIGTERM handler?",
        );
    }
    if !(answer.starts_with("HTTP/1.1 200") && answer.ends_with("PONG")) {
        return found(
            format!("the request in flight when SIGTERM arrived got {answer:?} ({how})"),
            "a graceful server finishes the requests it has before it exits",
        );
    }
    if stopped.exit_code != 0 || stopped.took > Duration::from_secs(2) {
        return found(
            how,
            "after SIGTERM the service should finish its requests and exit 0 at once",
        );
    }
    Ok(Some(format!("{took}, exit code 0, request answered")))
}
