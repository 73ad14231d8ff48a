//! The book cannot rot: it builds, every include resolves, code is included rather than
//! pasted, no measured number is typed by hand, and generated files are fresh.
//! Runs workshop/tests/book.rs (`cargo workshop` and the harness are a package of their own).
mod workshop;

#[test]
fn the_book_cannot_rot() {
    workshop::run("book");
}
