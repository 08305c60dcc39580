//! The house rules of `src/`, checked on the source text: which module may use which,
//! no import cycle between files or between top-level folders, and no file over
//! `MAX_LINES`. Module edges are read from `crate::` paths (in `use` lines and inline),
//! each path taken to the file module it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest source file allowed, in lines.
const MAX_LINES: usize = 700;

/// Folders (or files) at the top of `src/` that each must never use.
const FORBIDDEN: &[(&str, &[&str])] = &[
    ("kernels", &["matching", "ingest", "store", "job", "frame", "config"]),
    ("frame", &["matching", "ingest", "store", "job", "config"]),
    ("matching", &["ingest", "store", "job", "config"]),
    ("ingest", &["matching", "store", "job", "config"]),
    ("store", &["matching", "job", "config"]),
    ("eval", &["matching", "ingest", "kernels", "job", "frame", "config"]),
    ("review", &["matching", "job", "config"]),
    ("recall", &["matching", "job"]),
];

/// The stages of `matching`, in the order they run: none may use a later one.
const STAGES: &[&str] = &["model", "vote", "grow", "resolve", "refine", "still", "cuts", "select"];

/// Module path (`a::b`) of every source file of the library, with its text.
fn modules(src: &Path) -> BTreeMap<String, (PathBuf, String)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                // The binary is a crate of its own: it uses the library, never the reverse.
                if p.file_name().is_some_and(|n| n != "bin") {
                    stack.push(p);
                }
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                parts.pop();
            }
            out.insert(parts.join("::"), (p.clone(), std::fs::read_to_string(&p).unwrap()));
        }
    }
    out
}

/// Every path named after `crate::` in the code of `text` (comments and the test module
/// at the end of a file left out), as segments; `use crate::{a::b, c}` gives `a::b` and
/// `c`.
fn crate_paths(text: &str) -> Vec<Vec<String>> {
    let code: String = text
        .lines()
        .scan(false, |tests, l| {
            *tests |= l.trim_start().starts_with("mod tests");
            Some((*tests, l))
        })
        .filter(|(tests, l)| !tests && l.trim() != "#[cfg(test)]")
        .map(|(_, l)| l)
        .map(|l| match l.find("//") {
            // A comment starts at `//` outside a string literal.
            Some(i) if l[..i].matches('"').count() % 2 == 0 => &l[..i],
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let mut out = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `mycrate::`
        }
        tree(&mut rest, Vec::new(), &mut out);
    }
    out
}

/// Reads one use-tree from the start of `s` below `prefix`.
fn tree(s: &mut &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        *s = s.trim_start();
        if let Some(r) = s.strip_prefix('{') {
            *s = r;
            loop {
                tree(s, path.clone(), out);
                *s = s.trim_start();
                if let Some(r) = s.strip_prefix(',') {
                    *s = r;
                }
                *s = s.trim_start();
                if let Some(r) = s.strip_prefix('}') {
                    *s = r;
                    return;
                }
                if s.is_empty() {
                    return;
                }
            }
        }
        let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
        if end == 0 {
            out.push(path);
            return;
        }
        path.push(s[..end].to_string());
        *s = &s[end..];
        match s.strip_prefix("::") {
            Some(r) => *s = r,
            None => {
                out.push(path);
                return;
            }
        }
    }
}

/// The file modules each module uses (itself left out). Test code is not the house's
/// structure: `tests` modules and the `testkit` are left out.
fn edges(mods: &BTreeMap<String, (PathBuf, String)>) -> BTreeMap<String, BTreeSet<String>> {
    mods.iter()
        .filter(|(name, _)| !name.ends_with("tests") && name.as_str() != "testkit")
        .map(|(name, (_, text))| {
            let used = crate_paths(text)
                .into_iter()
                .filter_map(|p| (0..=p.len()).rev().map(|n| p[..n].join("::")).find(|m| mods.contains_key(m)))
                .filter(|m| m != name && !m.is_empty())
                .collect();
            (name.clone(), used)
        })
        .collect()
}

/// A cycle of `graph`, if it has one, as the nodes along it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    // 0: unseen, 1: on the current path, 2: done.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = path.iter().position(|p| p == m).unwrap();
                    let mut c = path[from..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

fn top(m: &str) -> &str {
    m.split("::").next().unwrap_or(m)
}

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_file_imports_in_a_cycle() {
    let g = edges(&modules(&src()));
    assert_eq!(cycle(&g), None, "an import cycle between files");
}

#[test]
fn no_folder_imports_in_a_cycle() {
    let mut folders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in edges(&modules(&src())) {
        let set = folders.entry(top(&from).to_string()).or_default();
        set.extend(to.iter().map(|t| top(t).to_string()).filter(|t| t != top(&from)));
    }
    assert_eq!(cycle(&folders), None, "an import cycle between top-level modules");
}

#[test]
fn each_concern_keeps_to_its_own() {
    let mut broken = Vec::new();
    for (from, to) in edges(&modules(&src())) {
        for (folder, never) in FORBIDDEN {
            if top(&from) == *folder {
                broken.extend(to.iter().filter(|t| never.contains(&top(t))).map(|t| format!("{from} uses {t}")));
            }
        }
        if from == "ingest::worker" && to.contains("ingest::pipeline") {
            broken.push("ingest::worker uses ingest::pipeline".into());
        }
        if let Some(stage) = from.strip_prefix("matching::").and_then(|s| STAGES.iter().position(|x| *x == s)) {
            for t in &to {
                if let Some(later) = t.strip_prefix("matching::").and_then(|s| STAGES.iter().position(|x| *x == s))
                    && later > stage
                {
                    broken.push(format!("{from} uses the later stage {t}"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "{broken:#?}");
}

#[test]
fn no_source_file_is_long() {
    // Every Rust file under src/, the binary's too.
    let mut stack = vec![src()];
    let mut long = Vec::new();
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let n = std::fs::read_to_string(&p).unwrap().lines().count();
                if n > MAX_LINES {
                    long.push(format!("{}: {n} lines", p.display()));
                }
            }
        }
    }
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}

#[test]
fn the_checks_see_what_they_must() {
    // A planted cycle is found, through grouped and nested use trees.
    let a = "use crate::x::{y::Thing, z};\nfn f() { crate::w::g(); } // crate::v\n";
    let paths = crate_paths(a);
    assert_eq!(paths, [vec!["x", "y", "Thing"], vec!["x", "z"], vec!["w", "g"]]);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycle(&g), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}
