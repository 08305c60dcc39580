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
        "--views",
        "3,1",
        "--sms",
        "2",
        "--clock-ghz",
        "1.5",
        "--bandwidth-gb-s",
        "100",
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
        let search = |n: u64| ("search".to_string(), n);
        assert_eq!(sizes, [("descriptor".into(), 64), search(1000), search(3000), search(1000), search(3000)]);
        let views: Vec<u64> = results[1..].iter().map(|m| m["views"].as_u64().unwrap()).collect();
        assert_eq!(views, [3, 3, 1, 1]);
        for m in results {
            let (median, min, max) =
                (m["median_s"].as_f64().unwrap(), m["min_s"].as_f64().unwrap(), m["max_s"].as_f64().unwrap());
            assert!(min > 0.0 && min <= median && median <= max, "{m}");
            let work = m["work_per_call"].as_f64().unwrap();
            assert!((m["per_second"].as_f64().unwrap() - work / median).abs() <= 1e-6 * work / median, "{m}");
        }
        assert_eq!(results[1]["work_per_call"], 8 * 1000 * 3, "queries x catalogue descriptors");
        assert_eq!(results[3]["work_per_call"], 8 * 1000);
        let timed = r["timestamps"].as_bool().unwrap();
        for m in &results[1..] {
            if device == "cpu" {
                assert!(m["kernel_s"].is_null() && m["dp4a_percent_end_to_end"].is_null(), "{m}");
                continue;
            }
            // The roofline from the flags: 2 SMs x 1.5 GHz x 64 DP4A; 32 DP4A a comparison.
            let dp4a = m["work_per_call"].as_f64().unwrap() * 32.0 / m["median_s"].as_f64().unwrap();
            let pct = m["dp4a_percent_end_to_end"].as_f64().unwrap();
            assert!((pct - 100.0 * dp4a / 1.92e11).abs() < 1e-6 * pct, "{m}");
            // Every catalogue descriptor is read at least once.
            let catalogue = 128 * m["size"].as_u64().unwrap() * m["views"].as_u64().unwrap();
            assert!(m["device_bytes"].as_u64().unwrap() > catalogue, "{m}");
            if timed {
                // Device time is part of the call's wall time.
                let device_s = m["kernel_s"].as_f64().unwrap() + m["merge_s"].as_f64().unwrap();
                assert!(device_s > 0.0 && device_s <= m["max_s"].as_f64().unwrap(), "{m}");
            }
        }
    }
}

#[test]
fn the_scale_bench_writes_catalogues_that_match_opens() {
    if !require(has_ffmpeg(), "the ffmpeg CLI") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let real = sample_catalogue(dir.path());
    // The donor: footage no sample upload shows.
    let footage = dir.path().join("donor-footage");
    std::fs::create_dir_all(&footage).unwrap();
    lavfi_video(&footage.join("life.mp4"), "life=size=320x180:rate=25:seed=7:ratio=0.3", 4.0);
    lavfi_video(&footage.join("bars.mp4"), "testsrc2=size=320x180:rate=25", 4.0);
    let donor = dir.path().join("donor");
    let (code, out, err) = build_catalogue(&donor, &[], &[&footage]);
    assert_eq!(code, 0, "{out}{err}");
    let (work, json) = (dir.path().join("work"), dir.path().join("scale.json"));
    let uploads = sample().join("uploads.tar.gz");
    let (code, out, err) = clipmatch(&[
        "bench",
        "--device",
        "cpu",
        "--catalog-hours",
        "0.05,0.1",
        "--probes",
        "2,1000",
        "--real",
        real.to_str().unwrap(),
        "--donor",
        donor.to_str().unwrap(),
        "--work",
        work.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        uploads.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("rec@16"), "the table: {out}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = r["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, hours) in rows.iter().zip([0.05, 0.1]) {
        // Sizes as asked (to the frame), with the real catalogue's videos among the filler.
        assert!((row["hours"].as_f64().unwrap() - hours).abs() < 1e-3, "{row}");
        assert!(row["disk_bytes"].as_u64().unwrap() > 0);
        // Held through the index, the descriptors are held once, in the lists.
        let (exact, index) = (row["memory_exact_bytes"].as_u64().unwrap(), row["memory_index_bytes"].as_u64().unwrap());
        assert!(exact > 0 && index > exact / 2 && index < exact * 11 / 10, "{row}");
        let index = row["index"].as_array().unwrap();
        assert_eq!(index.len(), 2);
        // Every cluster probed: the exhaustive top 16 exactly.
        assert_eq!(index[1]["recall_at_16"].as_f64().unwrap(), 1.0, "{row}");
        assert!(
            index[0]["frames_scored_per_query"].as_f64().unwrap()
                < index[1]["frames_scored_per_query"].as_f64().unwrap()
        );
    }
    // A real catalogue folder: `match` opens it and finds the sample's episodes in it.
    let cat = std::path::Path::new(rows[1]["path"].as_str().unwrap());
    let loaded = clipmatch::store::catalog::open(cat, clipmatch::store::catalog::Hold::ALL).unwrap();
    assert!(loaded.videos.iter().any(|v| v.id.starts_with("filler-")));
    assert!(
        loaded.videos.iter().any(|v| v.id == "ep1.mp4"),
        "{:?}",
        loaded.videos.iter().map(|v| &v.id).collect::<Vec<_>>()
    );
    let (code, out, err) = match_sample(cat, &dir.path().join("out"), &["--search", "index"]);
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("matches"), "{out}");
}
