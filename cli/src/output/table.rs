//! Plain text layouts for people: a left-aligned table and aligned
//! key/value lines.

/// A plain left-aligned text table.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names, separated by `|`:
    /// `"FACILITY|V|AS OF"`.
    pub fn new(columns: &str) -> Self {
        Self {
            header: columns.split('|').map(str::to_owned).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; control characters in cells are escaped (cells may
    /// hold peer-supplied text that must not move the cursor or forge rows).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| escape_controls(&c)).collect());
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i < widths.len() {
                    widths[i] = widths[i].max(cell.chars().count());
                }
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let w = widths.get(i).copied().unwrap_or(0);
                s.push_str(cell);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(w - cell.chars().count() + 2));
                }
            }
            s.trim_end().to_string()
        };
        let mut out = line(&self.header);
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row));
            out.push('\n');
        }
        out
    }
}

/// Key/value lines, keys aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k:<w$}  {v}\n"))
        .collect()
}

/// `text` with every control character (newline and ESC included) shown as
/// a Rust escape, e.g. `\n`, `\u{1b}`; other text unchanged.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod escape_tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_in_cells() {
        assert_eq!(escape_controls("C-1\n12  FORGED"), "C-1\\n12  FORGED");
        assert_eq!(escape_controls("C-1\n\u{1b}[2J"), "C-1\\n\\u{1b}[2J");
        assert_eq!(escape_controls("同意-1"), "同意-1");
        let mut t = Table::new("A");
        t.row(vec!["x\ny".into()]);
        assert_eq!(t.render().lines().count(), 2, "{}", t.render());
    }
}
