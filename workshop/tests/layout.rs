//! Drift checks that need no Docker: steps, tests and the top-level Dockerfile agree.
use workshop::hardening::{HARDENED_FLAGS, Hardening};
use workshop::{Check, RUST_VERSION, Step, StepNumber, repo_root};

fn steps() -> Vec<Step> {
    Step::all().unwrap_or_else(|error| panic!("{error}"))
}

/// `cargo test --test stepNN_slug` checks step NN: the root's test file runs the
/// workshop's test of that step (workshop/tests/steps.rs), which checks that step.
#[test]
fn every_step_has_a_test_and_every_step_test_a_step() {
    let steps = steps();
    assert!(
        steps.len() >= 8,
        "expected steps 01..08, found {}",
        steps.len()
    );
    let workshop_steps =
        std::fs::read_to_string(repo_root().join("workshop/tests/steps.rs")).unwrap();
    for step in &steps {
        let name = step.test_name();
        let test = repo_root().join("tests").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&test).unwrap_or_else(|_| {
            panic!(
                "steps/{} has no test: expected {}",
                step.slug,
                test.display()
            )
        });
        assert!(
            text.contains(&format!("workshop::run(\"{}\");", step.slug)),
            "{} does not run step {}'s test",
            test.display(),
            step.slug
        );
        assert!(
            workshop_steps.contains(&format!(
                "async fn {name}() {{\n    Step::get(\"{}\").assert_teaches().await;\n}}",
                step.slug
            )),
            "workshop/tests/steps.rs has no test {name} checking step {}",
            step.slug
        );
    }
    for entry in std::fs::read_dir(repo_root().join("tests")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if let Some(test) = name
            .strip_prefix("step")
            .and_then(|rest| rest.strip_suffix(".rs"))
        {
            assert!(
                steps
                    .iter()
                    .any(|step| step.test_name() == format!("step{test}")),
                "tests/{name} has no step folder under steps/"
            );
        }
    }
}

/// The root's `cargo test` runs every test of the workshop package: each of its test
/// files but the steps' has a root test file of the same name that runs it (so
/// `cargo test --test learner` works from the root), and each root file runs one.
#[test]
fn every_workshop_test_file_runs_from_the_root() {
    let root_tests = repo_root().join("tests");
    let mut workshop_tests = Vec::new();
    for entry in std::fs::read_dir(repo_root().join("workshop/tests")).unwrap() {
        let path = entry.unwrap().path();
        let name = match path.extension() {
            Some(extension) if extension == "rs" => path.file_stem(),
            None if path.join("main.rs").is_file() => path.file_name(),
            _ => None,
        };
        if let Some(name) = name.map(|name| name.to_string_lossy().to_string()) {
            workshop_tests.push(name);
        }
    }
    assert!(workshop_tests.len() > 5, "found {workshop_tests:?}");
    for name in workshop_tests.iter().filter(|name| *name != "steps") {
        let launcher = root_tests.join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&launcher)
            .unwrap_or_else(|_| panic!("workshop/tests/{name} has no {}", launcher.display()));
        assert!(
            text.contains(&format!("workshop::run(\"{name}\");")),
            "{} does not run workshop/tests/{name}",
            launcher.display()
        );
    }
    for entry in std::fs::read_dir(&root_tests).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path
            .file_stem()
            .map(|name| name.to_string_lossy().to_string())
        else {
            continue;
        };
        if path.extension().is_some_and(|extension| extension == "rs")
            && name != "service"
            && name != "all"
            && !name.starts_with("step")
        {
            assert!(
                workshop_tests.contains(&name),
                "tests/{name}.rs runs no workshop test file of its name"
            );
        }
    }
}

/// Plain `cargo test` runs every workshop test file once, from tests/all.rs: each
/// workshop file is in the suite's first files or one of its lanes, unless all its
/// tests are `#[ignore]`d (CI runs those by name); the root files after all.rs report
/// the suite's outcome instead of running theirs again (tests/workshop/mod.rs).
#[test]
fn plain_cargo_test_runs_every_workshop_test_file_once() {
    let suite = std::fs::read_to_string(repo_root().join("tests/workshop/mod.rs")).unwrap();
    let listed = &suite[suite.find("const FIRST").expect("the suite's FIRST files")..];
    let listed = &listed[..listed.find("pub fn run_all").expect("run_all")];
    for entry in std::fs::read_dir(repo_root().join("tests")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|extension| extension != "rs") {
            continue;
        }
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if name == "all" || name == "service" {
            continue;
        }
        if name.starts_with("step") {
            continue;
        }
        let tests_dir = repo_root().join("workshop/tests");
        let file = [
            tests_dir.join(format!("{name}.rs")),
            tests_dir.join(&name).join("main.rs"),
        ]
        .into_iter()
        .find(|file| file.is_file())
        .unwrap_or_else(|| panic!("tests/{name}.rs runs no workshop/tests/{name}"));
        let text = std::fs::read_to_string(&file).unwrap();
        let tests = text.matches("#[test]").count() + text.matches("#[tokio::test").count();
        let ignored = text.matches("#[ignore").count();
        assert!(
            listed.contains(&format!("\"{name}\"")) || (tests > 0 && ignored == tests),
            "workshop/tests/{name}.rs is in none of tests/workshop/mod.rs's FIRST or LANES"
        );
    }
    assert!(listed.contains("\"steps\""), "the suite runs no step tests");
}

#[test]
fn every_step_toml_is_complete_and_consistent() {
    for step in steps() {
        let slug = &step.slug;
        assert!(
            repo_root().join(step.reference_file()).is_file(),
            "steps/{slug}/step.toml: {} does not exist",
            step.reference_file().display()
        );
        assert!(
            !step.dockerfiles().is_empty(),
            "steps/{slug} has no Dockerfile"
        );
        // Every step answers PONG; every step after the naive one has a size budget
        // and checks it; each teaches something new that the step before it fails.
        let checks = &step.facts.checks;
        assert!(
            checks.contains(&Check::AnswersPong),
            "steps/{slug}/step.toml: checks must include answers_pong"
        );
        let first = step.previous().unwrap().is_none();
        assert_eq!(
            step.facts.budget.is_some(),
            !first,
            "steps/{slug}/step.toml: every step but the first has a [budget]"
        );
        assert_eq!(
            checks.contains(&Check::WithinBudget),
            !first,
            "steps/{slug}/step.toml: within_budget is checked exactly when there is a [budget]"
        );
        for (i, check) in checks.iter().enumerate() {
            assert!(
                !checks[..i].contains(check),
                "steps/{slug}/step.toml: {} is listed twice",
                check.name()
            );
        }
        for new in &step.facts.new {
            assert!(
                checks.contains(new),
                "steps/{slug}/step.toml: the new check {} is not in checks",
                new.name()
            );
        }
        assert_eq!(
            step.facts.new.is_empty(),
            first,
            "steps/{slug}/step.toml: every step but the first lists its `new` checks"
        );
    }
}

/// prepare.sh makes every base image a step or an exercise starts from, and no other.
#[test]
fn prepare_makes_the_base_images_the_steps_and_exercises_use() {
    let script = std::fs::read_to_string(repo_root().join("steps/00-base-images/prepare.sh"))
        .expect("read prepare.sh");
    let ready = script
        .lines()
        .find(|line| line.contains("say \"base images ready"))
        .expect("prepare.sh says which images are ready");
    let named = ready.matches("_image").count();
    let ours = workshop::step::workshop_base_images();
    assert_eq!(
        named,
        ours.len(),
        "prepare.sh names {named} images when it is done; the steps and exercises start from \
         {ours:?}"
    );
    for image in &ours {
        let (name, tag) = image.split_once(':').expect("a tag");
        assert!(script.contains(name), "prepare.sh does not make {image}");
        for part in tag.split('-').filter(|part| *part != "slim") {
            assert!(
                script.contains(part),
                "prepare.sh does not make {image}: it never names {part}"
            );
        }
    }
}

#[test]
fn base_images_are_pinned() {
    for step in steps() {
        let slug = &step.slug;
        let others: Vec<_> = step
            .exercise_files()
            .into_iter()
            .chain(step.alternative_files())
            .collect();
        let others = workshop::step::base_images(&others);
        for image in step.base_images().into_iter().chain(others) {
            let tag = image.rsplit_once(':').map(|(_, tag)| tag).unwrap_or("");
            assert!(
                !tag.is_empty() && tag != "latest",
                "steps/{slug}: FROM {image} is not pinned to a version"
            );
        }
    }
}

/// A cache mount without an `id` is keyed by its path, and every Dockerfile on the
/// builder that mounts `/app/target` shares it: the reference builds' mounts have ids of
/// the project's own.
#[test]
fn every_cache_mount_has_an_id_of_the_projects_own() {
    for step in steps() {
        let files: Vec<_> = step
            .dockerfiles()
            .into_iter()
            .chain(step.exercise_files())
            .chain(step.alternative_files())
            .collect();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for id in workshop::ci_cache::cache_mount_ids(&text) {
                assert!(
                    id.starts_with("ping-"),
                    "{}: a cache mount keyed {id:?}: give it an id of its own, \
                     --mount=type=cache,id=ping-…",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn the_top_level_dockerfile_is_the_last_steps() {
    let last = steps().pop().expect("a step");
    let step = |name: &str| format!("steps/{}/{name}", last.slug);
    for (top, step) in [
        ("Dockerfile", step("Dockerfile")),
        ("Dockerfile.dockerignore", step("Dockerfile.dockerignore")),
    ] {
        let read = |path: &str| std::fs::read_to_string(repo_root().join(path)).unwrap();
        assert!(
            read(top) == read(&step),
            "{top} differs from {step}: the top-level Dockerfile is the last step's. Copy one onto the other."
        );
    }
}

#[test]
fn a_step_number_has_one_parser() {
    for text in [
        "6",
        "06",
        "step06",
        "06-static-scratch",
        "step06_static_scratch",
    ] {
        let number: StepNumber = text
            .parse()
            .unwrap_or_else(|error| panic!("{text}: {error}"));
        assert_eq!(number.to_string(), "06", "{text}");
    }
    for text in ["", "0", "six", "006", "6x", "-6"] {
        assert!(
            text.parse::<StepNumber>().is_err(),
            "{text:?} parsed as a step number"
        );
    }
    assert_eq!(Step::get("6").slug, "06-static-scratch");
    let error = Step::find("42")
        .expect_err("there is no step 42")
        .to_string();
    assert!(
        error.contains("the steps are 01-naive, 02-slim-base"),
        "{error}"
    );
}

/// The Rust version is Cargo.toml's `rust-version`; every other place that names it
/// must agree: the Dockerfiles' `FROM rust:…`, the base-image script, the book.
#[test]
fn the_rust_version_is_written_in_one_place() {
    let mut places = vec![
        repo_root().join("Dockerfile"),
        repo_root().join("steps/00-base-images/prepare.sh"),
        repo_root().join("steps/00-base-images/rust.Dockerfile"),
        repo_root().join("README.md"),
    ];
    for step in steps() {
        places.extend(step.dockerfiles());
        places.extend(step.exercise_files());
        places.extend(step.alternative_files());
    }
    for entry in std::fs::read_dir(repo_root().join("book/src")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|extension| extension == "md") {
            places.push(path);
        }
    }
    let mut seen = 0;
    for path in places {
        let text = std::fs::read_to_string(&path).unwrap();
        // `rust:1.95-…` image tags, `rust_version=1.95.0`, `RUST_VERSION=1.95.0`, "Rust 1.95".
        for marker in ["rust:", "rust_version=", "RUST_VERSION=", "Rust "] {
            for (at, _) in text.match_indices(marker) {
                let version: String = text[at + marker.len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                let version = version.trim_end_matches('.');
                if version.is_empty() || !version.contains('.') {
                    continue;
                }
                seen += 1;
                assert!(
                    version == RUST_VERSION || version.starts_with(&format!("{RUST_VERSION}.")),
                    "{} names Rust {version}, but Cargo.toml's rust-version is {RUST_VERSION}: \
                     change it there and everywhere this test names",
                    path.display()
                );
            }
        }
    }
    assert!(
        seen >= 10,
        "found only {seen} mentions of the Rust version: is this test reading the right files?"
    );
}

#[test]
fn every_hardened_flag_is_applied_to_test_containers() {
    let hardening = Hardening::of(HARDENED_FLAGS).unwrap_or_else(|error| panic!("{error}"));
    assert!(
        hardening.read_only && hardening.pids_limit.is_some() && hardening.memory_bytes.is_some()
    );
    assert!(
        Hardening::of(&["--privileged"]).is_err(),
        "an unknown flag must not be ignored"
    );
}

/// The harness's modules by idea, in the order workshop/src/lib.rs's doc comment lists
/// them: each may use only modules listed before it, so no two modules import each other.
#[test]
fn no_harness_module_uses_one_listed_after_it() {
    let src = repo_root().join("workshop/src");
    let listing = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    // The layers as lib.rs's doc comment lists them (`//! - `name`  …`), lowest first.
    let order: Vec<&str> = listing
        .lines()
        .filter_map(|line| line.strip_prefix("//! - `")?.split('`').next())
        .collect();
    let declared = listing
        .lines()
        .filter(|line| line.starts_with("pub mod "))
        .count();
    assert_eq!(
        order.len(),
        declared,
        "lib.rs: list every module in its doc comment: {order:?}"
    );
    assert!(order.len() >= 10, "lib.rs lists {order:?}");
    for (at, module) in order.iter().enumerate() {
        let mut files = vec![src.join(format!("{module}.rs"))];
        if let Ok(entries) = std::fs::read_dir(src.join(module)) {
            files.extend(entries.map(|entry| entry.unwrap().path()));
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for later in &order[at + 1..] {
                let uses = [
                    format!("crate::{later}::"),
                    format!("crate::{later}}}"),
                    format!("crate::{later};"),
                    format!("crate::{{{later}"),
                    format!(" {later}::"),
                ];
                let used = text
                    .lines()
                    .filter(|line| !line.trim_start().starts_with("//"))
                    .any(|line| {
                        uses.iter().any(|pattern| line.contains(pattern.as_str()))
                            || (line.trim_start().starts_with("use crate::")
                                && line.contains(&format!(" {later}")))
                    });
                assert!(
                    !used,
                    "{} uses `{later}`, which lib.rs lists after `{module}`: move the shared part \
                     to a module listed before both",
                    file.display()
                );
            }
        }
    }
}

/// The limits the HTTP checks try are the service's own: a check that tried other
/// numbers would pass or fail for a reason the book does not give.
#[test]
fn the_http_checks_try_the_services_limits() {
    use workshop::checks::{HEADER_TIMEOUT, MAX_CONNECTIONS, WRITE_STALL_TIMEOUT};
    let source = std::fs::read_to_string(repo_root().join("src/main.rs")).unwrap();
    for line in [
        format!(
            "const HEADER_TIMEOUT: Duration = Duration::from_secs({});",
            HEADER_TIMEOUT.as_secs()
        ),
        format!(
            "const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs({});",
            WRITE_STALL_TIMEOUT.as_secs()
        ),
        format!("const MAX_CONNECTIONS: usize = {MAX_CONNECTIONS};"),
    ] {
        assert!(
            source.lines().any(|source_line| source_line == line),
            "src/main.rs has no line {line:?}: the harness (workshop/src/checks/http_limits.rs) \
             tries what that line says"
        );
    }
}

/// A build tagged apart (a rebuild) tells step 03's script its tag: the script names
/// its images after TAG, and without it would overwrite the step's own image (as a
/// measurement once found: "did not create the image ping:03-builder-pattern-rebuild").
#[test]
fn a_script_built_under_another_tag_is_told_the_tag() {
    let step = Step::get("03-builder-pattern");
    assert_eq!(step.build_command(), "steps/03-builder-pattern/build.sh");
    let apart = Step {
        image: "ping:03-builder-pattern-rebuild".into(),
        ..step
    };
    assert_eq!(
        apart.build_command(),
        "TAG=ping:03-builder-pattern-rebuild steps/03-builder-pattern/build.sh"
    );
}
