//! The workshop's own tools, built on the same harness as the step tests:
//!
//!   cargo run --example workshop -- generate            regenerate book/src/generated/
//!   cargo run --release --example workshop -- measure   measure every step, then regenerate
//!       [--quick] [--steps 01,06]                       sizes and counts only / some steps
//!
//! An example, not a binary: it is never part of the service's build.

#[path = "../../tests/support/mod.rs"]
mod support;

mod measure;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("generate") => generate(),
        Some("measure") => match measure::Options::parse(&args[1..]) {
            Ok(options) => {
                measure::run(&options);
                generate()
            }
            Err(message) => usage(&message),
        },
        _ => usage("which tool?"),
    }
}

fn usage(message: &str) -> ExitCode {
    eprintln!(
        "{message}\nusage: cargo run --example workshop -- generate\n       \
         cargo run --release --example workshop -- measure [--quick] [--steps 01,06]"
    );
    ExitCode::from(2)
}

/// Writes every generated file of the book; says which ones changed.
fn generate() -> ExitCode {
    let root = support::repo_root();
    for file in support::book::render_all() {
        let path = root.join(&file.path);
        let old = std::fs::read_to_string(&path).ok();
        if old.as_deref() != Some(file.content.as_str()) {
            std::fs::create_dir_all(path.parent().expect("a parent folder"))
                .expect("create book/src/generated");
            std::fs::write(&path, &file.content).expect("write a generated file");
            println!("wrote {}", file.path.display());
        }
    }
    println!("book/src/generated is up to date");
    ExitCode::SUCCESS
}
