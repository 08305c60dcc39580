//! WGSL sources, embedded at compile time, with a small `#import` resolver.

/// Every file under `shaders/`, by its path relative to that folder.
const FILES: &[(&str, &str)] = &[
    ("shared/common.wgsl", include_str!("../shaders/shared/common.wgsl")),
    ("descriptor.wgsl", include_str!("../shaders/descriptor.wgsl")),
    ("similarity.wgsl", include_str!("../shaders/similarity.wgsl")),
];

/// The kernels, by file name.
pub const KERNELS: &[&str] = &["descriptor.wgsl", "similarity.wgsl"];

fn file(name: &str) -> Option<&'static str> {
    FILES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// The kernel's source with each `#import path` line replaced by that file (once).
pub fn source(kernel: &str) -> String {
    let mut out = String::new();
    let mut seen = Vec::new();
    expand(kernel, &mut out, &mut seen);
    out
}

fn expand(name: &str, out: &mut String, seen: &mut Vec<String>) {
    if seen.iter().any(|s| s == name) {
        return;
    }
    seen.push(name.to_string());
    // The table above is fixed at compile time and a test expands every kernel.
    let text = file(name).unwrap_or_else(|| panic!("shader {name} is not embedded"));
    for line in text.lines() {
        match line.trim().strip_prefix("#import ") {
            Some(dep) => expand(dep.trim(), out, seen),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_validates_with_naga() {
        for kernel in KERNELS {
            let src = source(kernel);
            let module =
                naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| panic!("{kernel}: {}", e.emit_to_string(&src)));
            let mut validator =
                naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all());
            validator.validate(&module).unwrap_or_else(|e| panic!("{kernel}: {e:?}"));
        }
    }

    #[test]
    fn shared_constants_match_rust() {
        let src = source("similarity.wgsl");
        let module = naga::front::wgsl::parse_str(&src).unwrap();
        let value = |name: &str| -> u32 {
            let (_, c) = module
                .constants
                .iter()
                .find(|(_, c)| c.name.as_deref() == Some(name))
                .unwrap_or_else(|| panic!("no constant {name}"));
            match module.global_expressions[c.init] {
                naga::Expression::Literal(naga::Literal::U32(v)) => v,
                ref e => panic!("{name}: {e:?}"),
            }
        };
        use crate::descriptor as d;
        assert_eq!(value("IMG") as usize, d::IMG);
        assert_eq!(value("FREQ") as usize, d::FREQ);
        assert_eq!(value("DIM") as usize, d::DIM);
        assert_eq!(value("WORDS") as usize, d::WORDS);
        assert_eq!(value("IMG_WORDS") as usize, d::IMG_WORDS);
        assert_eq!(value("TOPK") as usize, crate::search::TOPK);
    }
}
