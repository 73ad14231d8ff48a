//! Checks that read the image's config: USER, ENTRYPOINT, CMD, HEALTHCHECK, labels,
//! EXPOSE, VOLUME, ENV.

use testcontainers::bollard::models::ImageConfig;

use super::super::error::{Result, found};
use super::super::image::{Image, shell_form};

/// A shell-form CMD or ENTRYPOINT runs `/bin/sh -c`: in an image without a shell the
/// container cannot start, with an error about /bin/sh that puzzles everyone once.
pub fn runs_without_a_missing_shell(image: &Image) -> Result<()> {
    let config = image.config();
    for (name, command) in [("ENTRYPOINT", config.entrypoint), ("CMD", config.cmd)] {
        let command = command.unwrap_or_default();
        let Some((shell, _)) = shell_form(&command) else {
            continue;
        };
        if image.files()?.exists(shell) {
            continue;
        }
        // Docker turns a shell-form line into the same `/bin/sh -c` array as a
        // wrapper written by hand: the Dockerfile says which one the learner wrote.
        let what = match image.wrote_as_json(name) {
            Some(true) => format!(
                "{name} {command:?} runs the service through {shell}, but the image has no {shell}"
            ),
            Some(false) => format!(
                "{name} is in shell form: Docker runs it as {command:?}, but the image has no {shell}"
            ),
            None => format!("{name} is {command:?}, but the image has no {shell}"),
        };
        return found(
            what,
            format!(
                "run the binary itself, without a shell: {name} [\"/ping\"] (exec form, a JSON array)"
            ),
        );
    }
    Ok(())
}

/// Step 08: `USER` is numeric `uid:gid`, neither of them root's: a uid alone runs the
/// process in group 0, root's group, which still owns files root's group may write.
pub fn runs_as_numeric_non_root_user(image: &Image) -> Result<()> {
    let user = image.config().user.unwrap_or_default();
    let numeric: Option<Vec<u32>> = user.split(':').map(|part| part.parse().ok()).collect();
    match numeric {
        _ if user.is_empty() => found(
            "the image sets no USER, so the service runs as root (uid 0)",
            "which user should the process run as, and how does Docker know without /etc/passwd?",
        ),
        None => found(
            format!(
                "USER {user:?} is not numeric: scratch has no /etc/passwd to resolve it, and a runtime cannot prove a name is not root"
            ),
            "give the user as uid:gid numbers",
        ),
        Some(ids) if ids.contains(&0) => found(
            format!("USER {user:?} is root"),
            "pick an unprivileged uid and gid",
        ),
        Some(ids) if ids.len() < 2 => found(
            format!("USER {user:?} names no group, so the process runs with gid 0 (root's group)"),
            "give the user as uid:gid numbers, both unprivileged",
        ),
        Some(_) => Ok(()),
    }
}

/// Step 08: ENTRYPOINT and HEALTHCHECK in exec form, the health check run by the binary.
pub fn exec_form_entrypoint_and_healthcheck(image: &Image) -> Result<()> {
    let config = image.config();
    let entrypoint = config.entrypoint.unwrap_or_default();
    if entrypoint.is_empty() {
        return found(
            "the image has no ENTRYPOINT",
            "write ENTRYPOINT [\"/binary\"]: no shell is needed, and the binary gets the signals",
        );
    }
    if let Some(shell) = through_a_shell(&entrypoint) {
        return found(
            format!("ENTRYPOINT {entrypoint:?} runs the service through a shell ({shell})"),
            "write ENTRYPOINT [\"/binary\"]: the shell would be PID 1 and get the signals, not \
             the binary",
        );
    }
    let test = config
        .healthcheck
        .and_then(|health| health.test)
        .unwrap_or_default();
    match test.first().map(String::as_str) {
        Some("CMD") if test.get(1) == entrypoint.first() => Ok(()),
        Some("CMD-SHELL") => found(
            format!("HEALTHCHECK {test:?} needs a shell"),
            "use the exec form: HEALTHCHECK CMD [\"/binary\", \"healthcheck\"]",
        ),
        None => found(
            "the image has no HEALTHCHECK",
            "scratch has no curl: let the binary check itself, in exec form",
        ),
        _ => found(
            format!("HEALTHCHECK is {test:?}"),
            "let the binary check itself: HEALTHCHECK CMD [\"/binary\", \"healthcheck\"]",
        ),
    }
}

/// The shell a command runs through, by any path or name (`/bin/sh`, `bash`, `busybox
/// sh`), or any program given a script with `-c`.
fn through_a_shell(command: &[String]) -> Option<String> {
    const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "busybox"];
    let program = command.first()?;
    let name = program.rsplit('/').next().unwrap_or(program);
    let scripted = command.get(1).is_some_and(|arg| arg == "-c");
    (SHELLS.contains(&name) || scripted).then(|| program.clone())
}

/// Step 08: the OCI labels a registry shows.
pub fn has_oci_labels(image: &Image) -> Result<()> {
    let labels = image.config().labels.unwrap_or_default();
    let missing: Vec<&str> = ["title", "description", "source", "licenses"]
        .into_iter()
        .filter(|key| {
            labels
                .get(&format!("org.opencontainers.image.{key}"))
                .is_none_or(|value| value.is_empty())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    found(
        format!(
            "missing labels org.opencontainers.image.{{{}}}",
            missing.join(",")
        ),
        "add them with LABEL in the final stage",
    )
}

/// The environment variables the service reads (src/main.rs), and PATH, which BuildKit
/// sets in every image.
const READ_FROM_THE_ENVIRONMENT: &[&str] = &["PATH", "PORT", "PING_WORKERS"];

/// Step 08: the config declares what the service is and nothing else. EXPOSE names the
/// port it listens on (PORT if the image sets it, else 8080): `docker run -P` and every
/// reader go by it. No VOLUME: the service writes nothing, and each `docker run` would
/// create an anonymous volume, writable under `--read-only`. No ENV the binary does not
/// read: anyone who pulls the image reads its environment, and a leftover is where
/// tokens leak.
pub fn declares_only_what_it_serves(config: &ImageConfig) -> Result<()> {
    let env = config.env.clone().unwrap_or_default();
    let unread: Vec<&str> = env
        .iter()
        .map(|variable| {
            variable
                .split_once('=')
                .map_or(variable.as_str(), |(name, _)| name)
        })
        .filter(|name| !READ_FROM_THE_ENVIRONMENT.contains(name))
        .collect();
    if !unread.is_empty() {
        return found(
            format!(
                "the image's environment sets {}, which the service never reads",
                unread.join(", ")
            ),
            "anyone who pulls the image can read its ENV: keep leftovers and secrets out, and \
             pass settings with `docker run -e`",
        );
    }
    let port = env
        .iter()
        .find_map(|variable| variable.strip_prefix("PORT="))
        .unwrap_or("8080");
    let listens_on = format!("{}/tcp", port.trim());
    let exposed = config.exposed_ports.clone().unwrap_or_default();
    if exposed != [listens_on.as_str()] {
        return found(
            if exposed.is_empty() {
                format!("the image EXPOSEs no port; the service listens on {listens_on}")
            } else {
                format!(
                    "the image EXPOSEs {}; the service listens on {listens_on} alone",
                    exposed.join(", ")
                )
            },
            "EXPOSE the port the service listens on: `docker run -P` publishes what EXPOSE names",
        );
    }
    let volumes = config.volumes.clone().unwrap_or_default();
    if !volumes.is_empty() {
        return found(
            format!(
                "the image declares VOLUME {}: every `docker run` creates an anonymous, \
                 writable volume there",
                volumes.join(", ")
            ),
            "the service writes nothing and runs `--read-only`: it needs no VOLUME",
        );
    }
    Ok(())
}
