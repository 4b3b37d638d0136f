//! Go's text/tabwriter as docker/cli sets it up for its tables
//! (`tabwriter.NewWriter(out, minwidth, 1, padding, ' ', 0)`): cells end at
//! a tab, a column block is a run of lines that have a cell in that
//! column, and each block is as wide as its widest cell plus the padding,
//! never narrower than minwidth. A line's last cell (after its last tab)
//! is not part of any column and is written as it is.

/// One line's cells: the tab-terminated ones, then the trailing text.
type Line<'a> = Vec<&'a str>;

/// Aligns `text` (lines of tab-separated cells) as Go's tabwriter does.
pub fn write(text: &str, minwidth: usize, padding: usize) -> String {
    let lines: Vec<Line> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut out = String::new();
    let mut widths = Vec::new();
    format(
        &lines,
        0,
        lines.len(),
        &mut widths,
        minwidth,
        padding,
        &mut out,
    );
    out
}

fn width(cell: &str) -> usize {
    cell.chars().count()
}

/// Go's Writer.format: finds each column block at depth `widths.len()`
/// among `lines[line0..line1]`, sizes it, and recurses to the right.
fn format(
    lines: &[Line],
    mut line0: usize,
    line1: usize,
    widths: &mut Vec<usize>,
    minwidth: usize,
    padding: usize,
    out: &mut String,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(lines, line0, this, widths, out);
        line0 = this;
        let mut w = minwidth;
        while this < line1 && column + 1 < lines[this].len() {
            w = w.max(width(lines[this][column]) + padding);
            this += 1;
        }
        widths.push(w);
        format(lines, line0, this, widths, minwidth, padding, out);
        widths.pop();
        line0 = this;
    }
    write_lines(lines, line0, line1, widths, out);
}

fn write_lines(lines: &[Line], from: usize, to: usize, widths: &[usize], out: &mut String) {
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if j < widths.len() && j + 1 < line.len() {
                out.push_str(&" ".repeat(widths[j].saturating_sub(width(cell))));
            }
        }
        // The last piece is the unterminated line after the final newline.
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_as_gos_tabwriter() {
        assert_eq!(
            write("A\tBB\tC\nxxxx\t\tz\n", 10, 3),
            "A         BB        C\nxxxx                z\n"
        );
        assert_eq!(
            write("A\tBB\tC\nxxxx\t\tz\n", 0, 3),
            "A      BB   C\nxxxx        z\n"
        );
        // A line without a tab ends the column block.
        assert_eq!(
            write("a\tb\nno tabs here\nlonger\tc\n", 0, 1),
            "a b\nno tabs here\nlonger c\n"
        );
        // Width counts characters, not bytes.
        assert_eq!(write("é\tx\nab\ty\n", 0, 1), "é  x\nab y\n");
        // Trailing text without a newline is kept.
        assert_eq!(write("a\tb", 0, 1), "a b");
    }
}
