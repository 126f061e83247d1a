//! What devstack prints: every child's lines under its name (coloured on a
//! terminal unless `NO_COLOR` is set), its own messages, and the table.

use std::io::{IsTerminal, Write};

/// Width of the name column: the longest name devstack prints.
const WIDTH: usize = 8;

const COLOURS: [&str; 7] = ["36", "32", "35", "33", "34", "96", "92"];

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub colour: bool,
}

impl Output {
    /// Colour when standard output is a terminal and `NO_COLOR` is unset or empty.
    pub fn detect() -> Self {
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { colour: !no_colour && std::io::stdout().is_terminal() }
    }

    /// One line of a child's output. The lock keeps lines from different children whole.
    pub fn line(&self, name: &str, text: &str) {
        let prefix = self.paint(&format!("{name:<WIDTH$} |"), colour_of(name));
        let _ = writeln!(std::io::stdout().lock(), "{prefix} {text}");
    }

    /// A message of devstack's own.
    pub fn say(&self, text: impl AsRef<str>) {
        let prefix = self.paint(&format!("{:<WIDTH$} |", "devstack"), "1");
        let _ = writeln!(std::io::stdout().lock(), "{prefix} {}", text.as_ref());
    }

    /// A problem, on standard error so it shows when standard output is captured.
    pub fn warn(&self, text: impl AsRef<str>) {
        let prefix = self.paint(&format!("{:<WIDTH$} |", "devstack"), "1;31");
        let _ = writeln!(std::io::stderr().lock(), "{prefix} {}", text.as_ref());
    }

    /// Lines printed as they are (the table, the ready line).
    pub fn plain(&self, text: impl AsRef<str>) {
        let _ = writeln!(std::io::stdout().lock(), "{}", text.as_ref());
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(text, "1")
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }
}

/// A stable colour per name.
fn colour_of(name: &str) -> &'static str {
    let sum: usize = name.bytes().map(usize::from).sum();
    COLOURS[sum % COLOURS.len()]
}

/// A left-aligned text table.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let render = |cells: Vec<&str>| {
        let line: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        line.join("  ").trim_end().to_owned()
    };
    let mut out = vec![render(header.to_vec())];
    out.push(render(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().iter().map(String::as_str).collect()));
    out.extend(rows.iter().map(|r| render(r.iter().map(String::as_str).collect())));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(&["service", "address"], &[vec!["postgres".into(), "127.0.0.1:5432".into()]]);
        assert_eq!(t, "service   address\n--------  --------------\npostgres  127.0.0.1:5432");
    }

    #[test]
    fn colour_is_off_when_asked() {
        let out = Output { colour: false };
        assert_eq!(out.bold("x"), "x");
        assert_eq!(Output { colour: true }.bold("x"), "\x1b[1mx\x1b[0m");
    }
}
