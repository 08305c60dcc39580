//! The WGSL kernels: their sources, embedded at compile time with a small `#import`
//! resolver, and their bindings, declared once here as data that pipeline creation and
//! dispatch both read (`gpu`). Each kernel sits beside its CPU twin by name:
//! `shaders/descriptor.wgsl` and `kernels/descriptor.rs`, `shaders/search.wgsl` and
//! `shaders/merge.wgsl` and `kernels/search.rs`, `shaders/coarse.wgsl` and
//! `kernels/ivf.rs`.

/// Every file under `shaders/`, by its path relative to that folder.
const FILES: &[(&str, &str)] = &[
    ("shared/common.wgsl", include_str!("../../shaders/shared/common.wgsl")),
    ("shared/topk.wgsl", include_str!("../../shaders/shared/topk.wgsl")),
    ("descriptor.wgsl", include_str!("../../shaders/descriptor.wgsl")),
    ("search.wgsl", include_str!("../../shaders/search.wgsl")),
    ("coarse.wgsl", include_str!("../../shaders/coarse.wgsl")),
    ("merge.wgsl", include_str!("../../shaders/merge.wgsl")),
];

/// Invocations per workgroup of every kernel (`@workgroup_size` in its WGSL).
pub const WORKGROUP: u32 = 64;

/// Queries per workgroup of `search.wgsl`: each invocation scores two.
pub const SEARCH_QUERIES: u32 = 2 * WORKGROUP;

/// A compute kernel (entry point `main`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// `descriptor.wgsl`: one descriptor per 32x32 image (twin: `descriptor::describe`).
    Descriptor,
    /// `search.wgsl`: top-k of each query in chunks of catalogue frames (twin:
    /// `search::cpu_chunk_topk`).
    Search,
    /// `merge.wgsl`: each query's chunk lists into its top-k (twin: `search::merge`).
    Merge,
    /// `coarse.wgsl`: every query's score against every index centroid (twin:
    /// `ivf::coarse_scores`).
    Coarse,
}

/// What a binding of group 0 holds, in binding order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// `var<uniform>`: the dispatch's parameters.
    Uniform,
    /// `var<storage, read>`: an input.
    Input,
    /// `var<storage, read_write>`: the output, read back after the dispatch (always last).
    Output,
}

impl Kernel {
    pub const ALL: [Kernel; 4] = [Kernel::Descriptor, Kernel::Search, Kernel::Merge, Kernel::Coarse];

    /// The kernel's file under `shaders/`.
    pub fn file(self) -> &'static str {
        match self {
            Kernel::Descriptor => "descriptor.wgsl",
            Kernel::Search => "search.wgsl",
            Kernel::Merge => "merge.wgsl",
            Kernel::Coarse => "coarse.wgsl",
        }
    }

    /// Its bindings of group 0, in order.
    pub fn bindings(self) -> &'static [Binding] {
        use Binding::*;
        match self {
            // params, tables, images -> descriptors
            Kernel::Descriptor => &[Uniform, Input, Input, Output],
            // params, queries, catalogue tile -> per-chunk hits
            Kernel::Search => &[Uniform, Input, Input, Output],
            // params, per-chunk hits -> top-k per query
            Kernel::Merge => &[Uniform, Input, Output],
            // params, queries, centroids -> scores
            Kernel::Coarse => &[Uniform, Input, Input, Output],
        }
    }

    /// The kernel's source with each `#import path` line replaced by that file (once).
    pub fn source(self) -> String {
        let mut out = String::new();
        let mut seen = Vec::new();
        expand(self.file(), &mut out, &mut seen);
        out
    }
}

fn file(name: &str) -> Option<&'static str> {
    FILES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
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
    use crate::kernels::descriptor::{self as d, DescribeParams, Descriptor, Tables};
    use crate::kernels::search::{Hit, MergeParams, SearchParams, TOPK};

    fn module(k: Kernel) -> naga::Module {
        let src = k.source();
        naga::front::wgsl::parse_str(&src).unwrap_or_else(|e| panic!("{k:?}: {}", e.emit_to_string(&src)))
    }

    #[test]
    fn every_kernel_validates_with_naga() {
        for k in Kernel::ALL {
            let mut validator =
                naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all());
            validator.validate(&module(k)).unwrap_or_else(|e| panic!("{k:?}: {e:?}"));
        }
    }

    #[test]
    fn every_kernel_runs_workgroups_of_the_size_dispatch_counts() {
        for k in Kernel::ALL {
            let m = module(k);
            let main = m.entry_points.iter().find(|e| e.name == "main").expect("main");
            assert_eq!(main.workgroup_size, [WORKGROUP, 1, 1], "{k:?}");
        }
    }

    #[test]
    fn the_bindings_are_those_the_kernels_declare() {
        for k in Kernel::ALL {
            let m = module(k);
            let mut found: Vec<(u32, Binding)> = m
                .global_variables
                .iter()
                .filter_map(|(_, g)| {
                    let b = g.binding.as_ref()?;
                    assert_eq!(b.group, 0, "{k:?}: {:?}", g.name);
                    let kind = match g.space {
                        naga::AddressSpace::Uniform => Binding::Uniform,
                        naga::AddressSpace::Storage { access } if access.contains(naga::StorageAccess::STORE) => {
                            Binding::Output
                        }
                        naga::AddressSpace::Storage { .. } => Binding::Input,
                        ref s => panic!("{k:?}: {:?} in {s:?}", g.name),
                    };
                    Some((b.binding, kind))
                })
                .collect();
            found.sort_by_key(|f| f.0);
            let want: Vec<(u32, Binding)> = (0u32..).zip(k.bindings().iter().copied()).collect();
            assert_eq!(found, want, "{k:?}");
        }
    }

    /// The value of WGSL constant `name` of kernel `k`.
    fn constant(k: Kernel, name: &str) -> u32 {
        let m = module(k);
        let (_, c) = m
            .constants
            .iter()
            .find(|(_, c)| c.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{k:?}: no constant {name}"));
        match m.global_expressions[c.init] {
            naga::Expression::Literal(naga::Literal::U32(v)) => v,
            ref e => panic!("{name}: {e:?}"),
        }
    }

    #[test]
    fn shared_constants_match_rust() {
        for k in Kernel::ALL {
            assert_eq!(constant(k, "IMG") as usize, d::IMG);
            assert_eq!(constant(k, "FREQ") as usize, d::FREQ);
            assert_eq!(constant(k, "DIM") as usize, d::DIM);
            assert_eq!(constant(k, "WORDS") as usize, d::WORDS);
            assert_eq!(constant(k, "IMG_WORDS") as usize, d::IMG_WORDS);
            assert_eq!(constant(k, "TOPK") as usize, TOPK);
        }
        assert_eq!(constant(Kernel::Descriptor, "ROW_SHIFT"), d::ROW_SHIFT);
        assert_eq!(constant(Kernel::Descriptor, "COL_SHIFT"), d::COL_SHIFT);
        assert_eq!(constant(Kernel::Descriptor, "NORM_BITS"), d::NORM_BITS);
    }

    #[test]
    fn struct_sizes_match_the_wgsl_layout() {
        let cases: [(Kernel, &str, usize); 8] = [
            (Kernel::Coarse, "Params", size_of::<crate::kernels::ivf::CoarseParams>()),
            (Kernel::Descriptor, "Params", size_of::<DescribeParams>()),
            (Kernel::Descriptor, "Descriptor", size_of::<Descriptor>()),
            (Kernel::Descriptor, "Tables", size_of::<Tables>()),
            (Kernel::Search, "Params", size_of::<SearchParams>()),
            (Kernel::Search, "Hit", size_of::<Hit>()),
            (Kernel::Merge, "Params", size_of::<MergeParams>()),
            (Kernel::Merge, "Hit", size_of::<Hit>()),
        ];
        for (k, name, rust) in cases {
            let m = module(k);
            let mut layouter = naga::proc::Layouter::default();
            layouter.update(m.to_ctx()).unwrap();
            let (handle, _) = m
                .types
                .iter()
                .find(|(_, t)| t.name.as_deref() == Some(name))
                .unwrap_or_else(|| panic!("{k:?}: no struct {name}"));
            assert_eq!(layouter[handle].size as usize, rust, "{k:?}: {name}");
        }
    }
}
