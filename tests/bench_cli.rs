//! `clipmatch bench`: the table and the JSON report, on the CPU twins and on an adapter.

mod common;

use common::*;

fn bench(device: &str, dir: &std::path::Path) -> serde_json::Value {
    let json = dir.join(format!("{device}.json"));
    let (code, out, err) = clipmatch(&[
        "bench",
        "--device",
        device,
        "--frames",
        "1000,3000",
        "--images",
        "64",
        "--queries",
        "8",
        "--repeats",
        "3",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("descriptor") && out.contains("search"), "the table: {out}");
    serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
}

#[test]
fn bench_reports_every_kernel_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut devices = vec!["cpu"];
    if require(clipmatch::kernels::gpu::Gpu::open(false).ok().flatten().is_some(), "a wgpu adapter") {
        devices.push("gpu");
    }
    for device in devices {
        let r = bench(device, dir.path());
        assert_eq!(r["device"], device);
        assert!(!r["adapter"].as_str().unwrap().is_empty());
        let results = r["results"].as_array().unwrap();
        let sizes: Vec<(String, u64)> =
            results.iter().map(|m| (m["kernel"].as_str().unwrap().to_string(), m["size"].as_u64().unwrap())).collect();
        assert_eq!(sizes, [("descriptor".into(), 64), ("search".into(), 1000), ("search".into(), 3000)]);
        for m in results {
            let (median, min, max) =
                (m["median_s"].as_f64().unwrap(), m["min_s"].as_f64().unwrap(), m["max_s"].as_f64().unwrap());
            assert!(min > 0.0 && min <= median && median <= max, "{m}");
            let work = m["work_per_call"].as_f64().unwrap();
            assert!((m["per_second"].as_f64().unwrap() - work / median).abs() <= 1e-6 * work / median, "{m}");
        }
        assert_eq!(results[1]["work_per_call"], 8 * 1000, "queries x catalogue descriptors");
    }
}
