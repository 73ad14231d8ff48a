//! A shell command as the book shows it: broken into lines that fit the book's code
//! blocks, and that still paste into a shell as one command.

/// The longest line a code block in the book may have: the content column is 750 px
/// wide, and mdBook's code font fits about 86 characters into it (the browser test
/// measured 8.4 px a character at 1280 px; it fails on anything that scrolls). Past that a line scrolls sideways, and what scrolls away is usually
/// what matters (the image name at the end of a `docker run`).
pub const CODE_COLUMNS: usize = 80;

/// A shell command as the book shows it: broken at spaces (never inside quotes, never
/// between an option and its value) into
/// lines of at most `CODE_COLUMNS`, continued with ` \` and indented, so it still
/// pastes into a shell as one command.
pub fn shell_line(command: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut quote = None;
    let mut word = String::new();
    for c in command.chars() {
        match (c, quote) {
            (' ', None) => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                continue;
            }
            ('\'' | '"', None) => quote = Some(c),
            (c, Some(open)) if c == open => quote = None,
            _ => {}
        }
        word.push(c);
    }
    if !word.is_empty() {
        words.push(word);
    }
    // An option stays on one line with its value (`--memory 64m`, `-f FILE`); the last
    // word is the command's subject (the image, the context), never an option's value.
    let last = words.len().saturating_sub(1);
    let mut glued: Vec<String> = Vec::new();
    for (index, word) in words.into_iter().enumerate() {
        match glued.last_mut() {
            Some(option)
                if option.starts_with('-')
                    && !option.contains(' ')
                    && !word.starts_with('-')
                    && index != last =>
            {
                option.push(' ');
                option.push_str(&word);
            }
            _ => glued.push(word),
        }
    }
    let words = glued;
    let mut lines: Vec<String> = Vec::new();
    for word in words {
        // Continuation lines are indented by 4; every line but the last ends in " \\".
        let fits =
            |line: &String, indent: usize| indent + line.len() + 1 + word.len() + 2 <= CODE_COLUMNS;
        let indent = if lines.len() > 1 { 4 } else { 0 };
        match lines.last_mut() {
            Some(line) if fits(line, indent) => {
                line.push(' ');
                line.push_str(&word);
            }
            _ => lines.push(word),
        }
    }
    lines.join(" \\\n    ")
}
