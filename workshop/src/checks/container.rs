//! Checks that run a container of the image and talk to it.

use std::time::Duration;

use super::Passed;
use crate::error::{Error, Result, found};
use crate::hardening::Hardening;
use crate::image::Image;
use crate::running::{self, InFlightStop, Running, STOPPING};
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
    // Docker lists the primary gid among the supplementary groups too (since Engine
    // 20.10.18's fix of CVE-2022-36109, moby#44119): only another group grants more.
    let others: Vec<u32> = kernel
        .groups
        .iter()
        .copied()
        .filter(|&group| group != gid)
        .collect();
    if !others.is_empty() {
        return found(
            format!(
                "the service runs as uid {uid}, gid {gid}, with the supplementary groups {:?}",
                kernel.groups
            ),
            "the image's USER gives the process its uid and gid and nothing more: does the \
             image set groups (an /etc/group naming the user)?",
        );
    }
    Ok(Some(format!(
        "read-only, no capability, as uid {uid}, gid {gid}, no other group"
    )))
}

/// The demonstration from step 08 on: the hardened flags as the kernel applies them.
/// Run as root (`--user 0:0`) so that the flags alone make the difference: without them
/// the bounding set is full and NoNewPrivs 0; with them NoNewPrivs 1 and every
/// capability set empty; Docker's seccomp filter either way. The flags decide all of it,
/// not the image: shown, not counted as a check.
pub async fn the_kernel_applies_the_flags(image: &Image) -> Result<Passed> {
    let as_root = || running::request(&image.tag).with_user("0:0");
    let mut said = Vec::new();
    for (what, request, locked) in [
        ("without the flags", as_root(), false),
        ("with the flags", running::hardened(as_root()), true),
    ] {
        let running = Running::try_start(request).await?;
        let kernel = running.kernel_status().await?;
        let recorded = running.recorded_hardening().await?;
        let applied = kernel.no_new_privs == 1 && kernel.no_capabilities();
        if (recorded == Hardening::production()) != locked
            || applied != locked
            || kernel.seccomp != 2
        {
            return found(
                format!(
                    "{what}, run as root, the kernel shows NoNewPrivs {}, CapEff {}, CapPrm {}, \
                     CapBnd {}, CapAmb {}, Seccomp {}; Docker recorded {recorded:?}",
                    kernel.no_new_privs,
                    kernel.cap_eff,
                    kernel.cap_prm,
                    kernel.cap_bnd,
                    kernel.cap_amb,
                    kernel.seccomp
                ),
                "are the flags --cap-drop ALL and --security-opt no-new-privileges given, and \
                 does Docker run with its default seccomp profile (`docker info` lists seccomp)?",
            );
        }
        said.push(format!(
            "{what} NoNewPrivs {}, CapBnd {}",
            kernel.no_new_privs, kernel.cap_bnd
        ));
    }
    Ok(Some(format!(
        "as root {}; Seccomp 2 both times",
        said.join(", ")
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
    let (idle, busy) = threads_idle_and_busy(&running).await?;
    let threads = idle.max(busy);
    if threads > MAX_THREADS {
        return found(
            format!(
                "the service runs {threads} threads ({idle} idle, {busy} serving {LOAD_CLIENTS} \
                 clients), more than {MAX_THREADS}"
            ),
            "tokio starts a worker per CPU unless told otherwise, and its blocking pool grows \
             up to 512 threads: does the environment set PING_WORKERS, or does the runtime \
             ignore the bound?",
        );
    }
    running.try_wait_healthy(Duration::from_secs(30)).await?;
    drop(running);
    // On a small machine tokio's own default (a worker per CPU) stays inside the bound
    // too: asked for one worker, the service must run its main thread and that one.
    let request = running::hardened_as(
        running::request(&image.tag).with_env_var("PING_WORKERS", "1"),
        hardening.clone(),
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
    drop(one_worker);
    // Held to one CPU (`--cpuset-cpus`, as a CPU limit holds a container on a big host),
    // the default is one worker: the count follows the CPUs the container may use, not
    // the host's.
    let request = running::pinned(
        running::hardened_as(running::request(&image.tag), hardening),
        "0",
    );
    let one_cpu = start_checked(image, request).await?;
    let on_one_cpu = one_cpu.kernel_status().await?.threads;
    if on_one_cpu > 2 {
        return found(
            format!(
                "held to one CPU (--cpuset-cpus 0) the idle service runs {on_one_cpu} threads, \
                 not 2 (its main thread and one worker)"
            ),
            "count the CPUs the container may use (std::thread::available_parallelism reads \
             its cpuset and CPU quota), not the host's",
        );
    }
    Ok(Some(format!(
        "{idle} threads idle, {busy} serving {LOAD_CLIENTS} clients, {with_one} with \
         PING_WORKERS=1, {on_one_cpu} on one CPU; healthy under --pids-limit {FEW_PIDS}"
    )))
}

/// Clients `bounds_its_threads` keeps busy at once: more than the workers, so every
/// worker and whatever the runtime starts under load is running.
const LOAD_CLIENTS: usize = 64;

/// The service's threads idle, and the most seen while LOAD_CLIENTS keep-alive clients
/// send requests for two seconds (every request is answered, or the check says so).
async fn threads_idle_and_busy(running: &Running) -> Result<(u64, u64)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let idle = running.kernel_status().await?.threads;
    let address = running.url.trim_start_matches("http://").to_string();
    let until = std::time::Instant::now() + Duration::from_secs(2);
    let clients = (0..LOAD_CLIENTS).map(|_| {
        let address = address.clone();
        async move {
            let mut stream = tokio::net::TcpStream::connect(&address).await?;
            let mut answer = [0u8; 512];
            while std::time::Instant::now() < until {
                stream
                    .write_all(b"GET /ping HTTP/1.1\r\nHost: ping\r\n\r\n")
                    .await?;
                let read = stream.read(&mut answer).await?;
                if !answer[..read].ends_with(b"PONG") {
                    return Err(std::io::Error::other(format!(
                        "answered {:?}",
                        String::from_utf8_lossy(&answer[..read])
                    )));
                }
            }
            Ok::<_, std::io::Error>(())
        }
    });
    let sample = async {
        let mut most = 0;
        while std::time::Instant::now() < until {
            most = most.max(running.kernel_status().await?.threads);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok::<_, Error>(most)
    };
    let (served, busy) = tokio::join!(futures::future::join_all(clients), sample);
    if let Some(Err(error)) = served.into_iter().find(Result::is_err) {
        return found(
            format!("under {LOAD_CLIENTS} clients a request failed: {error}"),
            "the service must answer every client within its connection cap",
        );
    }
    Ok((idle, busy?))
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
