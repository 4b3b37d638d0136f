//! A `command:` or `entrypoint:` string split into words as Compose splits
//! it (go-shellwords, not `sh -c`): blanks separate words, single quotes
//! keep everything, double quotes keep blanks and take `\` escapes, `\`
//! outside quotes escapes the next character. `#` is not a comment.

/// The words of `s`; `Err` names the quote left open.
pub(crate) fn split(s: &str) -> Result<Vec<String>, &'static str> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a single quote is never closed"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => word.push(c),
                            None => return Err("a double quote is never closed"),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a double quote is never closed"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    word.push(c);
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn words_quotes_and_escapes() {
        assert_eq!(
            split("mysqld --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci")
                .unwrap(),
            [
                "mysqld",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci"
            ]
        );
        assert_eq!(
            split(r#"sh -c 'echo "$HOME" # x'"#).unwrap(),
            ["sh", "-c", r#"echo "$HOME" # x"#]
        );
        assert_eq!(
            split(r#"echo "a \"b\" c" d\ e ''"#).unwrap(),
            ["echo", r#"a "b" c"#, "d e", ""]
        );
        assert_eq!(split("  ").unwrap(), Vec::<String>::new());
        assert_eq!(
            split("echo #not-a-comment").unwrap(),
            ["echo", "#not-a-comment"]
        );
    }

    #[test]
    fn open_quotes_are_errors() {
        assert!(split("echo 'open").is_err());
        assert!(split("echo \"open").is_err());
    }
}
