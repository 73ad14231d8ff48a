//! Checks that read the files inside the image (`docker export` of a container).

use crate::error::{Result, found};
use crate::image::Image;

/// Step 01's point: the toolchain, the source and the build tree all ship.
pub fn ships_toolchain_source_and_build_tree(image: &Image) -> Result<()> {
    let files = image.files()?;
    let wanted = [
        "/usr/local/cargo/bin/cargo",
        "/app/src/main.rs",
        "/app/target/release/ping",
    ];
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|path| !files.exists(path))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    found(
        format!("the naive image was expected to hold {missing:?}"),
        "the naive step copies the whole context into a rust image and builds there",
    )
}

/// Step 02's point: the build context carried only what the build needs.
pub fn no_build_context_junk(image: &Image) -> Result<()> {
    let files = image.files()?;
    let junk: Vec<String> = [".git", "target", "tests", "book", "steps", ".ci"]
        .iter()
        .map(|name| format!("/app/{name}"))
        .filter(|path| files.contains(path))
        .collect();
    if junk.is_empty() {
        return Ok(());
    }
    found(
        format!("the image holds {}", junk.join(", ")),
        "what does `COPY . .` copy? A Dockerfile.dockerignore next to the Dockerfile decides what \
         the build context sends, and a build tree deleted in a later RUN still weighs in its layer",
    )
}

/// Steps 03 and 04: no Rust source or manifest in the runtime image.
pub fn no_source(image: &Image) -> Result<()> {
    let files = image.files()?;
    let mut source = files.ending_with(".rs");
    source.extend(files.named("Cargo.toml"));
    if source.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = source.iter().take(3).copied().collect();
    found(
        format!(
            "the image holds source: {} ({} files)",
            shown.join(", "),
            source.len()
        ),
        "which stage does your final FROM start from, and what does it COPY?",
    )
}

/// Steps 03 and 04: no cargo, rustc or rustup in the runtime image.
pub fn no_toolchain(image: &Image) -> Result<()> {
    let files = image.files()?;
    let mut tools = Vec::new();
    for name in ["cargo", "rustc", "rustup"] {
        tools.extend(files.named(name));
    }
    if tools.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = tools.iter().take(3).copied().collect();
    found(
        format!(
            "the image holds the Rust toolchain: {} ({} paths)",
            shown.join(", "),
            tools.len()
        ),
        "the runtime image needs the binary, not what built it: start the last stage from a \
         runtime base and copy only the binary into it",
    )
}

/// Step 06: the service binary has no ELF interpreter and needs no shared library.
pub fn binary_is_static(image: &Image) -> Result<()> {
    let (path, bytes) = super::the_service_binary(image)?;
    let elf = match goblin::elf::Elf::parse(&bytes) {
        Ok(elf) => elf,
        Err(error) => {
            return found(
                format!("{path} is not an ELF binary: {error}"),
                "ENTRYPOINT should name the compiled service",
            );
        }
    };
    let mut needs = Vec::new();
    if let Some(interpreter) = elf.interpreter {
        needs.push(format!("the interpreter {interpreter}"));
    }
    needs.extend(
        elf.libraries
            .iter()
            .map(|library| format!("the shared library {library}")),
    );
    if needs.is_empty() {
        return Ok(());
    }
    found(
        format!(
            "{path} is dynamically linked: it needs {}",
            needs.join(", ")
        ),
        "scratch has no libc: build for the musl target, whose C library is linked into the binary",
    )
}

/// Steps 06–08: the image's files are the service binary and nothing else (and the
/// folders it sits in: `/bin/server` comes with `/bin`).
pub fn holds_only_the_binary(image: &Image) -> Result<()> {
    let files = image.files()?;
    let own = files.own();
    let paths = |paths: &[&str]| {
        let shown: Vec<&str> = paths.iter().take(5).copied().collect();
        let more = paths.len().saturating_sub(shown.len());
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let noun = if paths.len() == 1 { "path" } else { "paths" };
        format!("{} {noun}: {}{more}", paths.len(), shown.join(", "))
    };
    let Some(binary) = image.service_binary()? else {
        return found(
            format!(
                "cannot tell which file is the service from ENTRYPOINT/CMD {:?}; the image holds {}",
                image.command(),
                paths(&own)
            ),
            "name the binary itself, in exec form: ENTRYPOINT [\"/ping\"]",
        );
    };
    // The folders a COPY creates above the binary (/bin for /bin/server) hold only it.
    let above_the_binary = |path: &str| {
        files.0.get(path).is_some_and(|entry| entry.is_dir)
            && binary.starts_with(path)
            && binary[path.len()..].starts_with('/')
    };
    let others: Vec<&str> = own
        .into_iter()
        .filter(|path| *path != binary && !above_the_binary(path))
        .collect();
    if others.is_empty() && files.contains(&binary) {
        return Ok(());
    }
    found(
        format!("besides {binary} the image holds {}", paths(&others)),
        "start the final stage FROM scratch and COPY only the binary into it",
    )
}

/// Steps 06–08: no shell to exec into, or for an attacker to use.
pub fn no_shell(image: &Image) -> Result<()> {
    let files = image.files()?;
    let shells: Vec<&str> = [
        "/bin/sh",
        "/bin/bash",
        "/usr/bin/sh",
        "/usr/bin/bash",
        "/bin/busybox",
    ]
    .into_iter()
    .filter(|path| files.exists(path))
    .collect();
    if shells.is_empty() {
        return Ok(());
    }
    found(
        format!("the image holds a shell: {}", shells.join(", ")),
        "an image FROM scratch has no shell unless you copy one in",
    )
}

/// Step 08: nothing setuid or setgid.
pub fn no_setuid_files(image: &Image) -> Result<()> {
    let flagged: Vec<&str> = image
        .files()?
        .0
        .iter()
        .filter(|(_, entry)| !entry.is_dir && entry.mode & 0o6000 != 0)
        .map(|(path, _)| path.as_str())
        .collect();
    if flagged.is_empty() {
        return Ok(());
    }
    found(
        format!("setuid/setgid files: {}", flagged.join(", ")),
        "a runtime image needs no privilege-raising programs",
    )
}
