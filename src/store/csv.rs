//! A small CSV reader for the files people hand clipmatch: ground truth, edit lists and
//! catalogue metadata, header first.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// Rows of a header-first CSV file, by column name. Fields may be double-quoted (with "" escapes), as Python's csv module writes them.
pub fn read_csv(path: &Path) -> Result<Vec<HashMap<String, String>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = split_csv(lines.next().ok_or_else(|| Error::Invalid(format!("{}: empty CSV", path.display())))?);
    Ok(lines.map(|l| header.iter().cloned().zip(split_csv(l)).collect()).collect())
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}
