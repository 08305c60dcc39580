//! The decode entry point on arbitrary bytes: FFmpeg probing, decoding, sampling, border
//! detection and resampling must end without a panic, in a result or a typed error.
#![no_main]

use clipmatch::ingest::decode::DecodeOptions;
use clipmatch::ingest::pipeline::{Views, decode_file};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("upload");
    std::fs::File::create(&input).unwrap().write_all(data).unwrap();
    let opts = DecodeOptions {
        max_pixels: 1 << 22,
        max_duration_s: 600.0,
        max_wall_s: 5.0,
        ..Default::default()
    };
    if let Ok(d) = decode_file(&input, &opts, Views::Query) {
        assert_eq!(d.times.len(), d.views.len());
        assert_eq!(d.images.len(), d.views.iter().map(|&n| n as usize).sum::<usize>());
        assert!(d.times.windows(2).all(|w| w[0] <= w[1]), "sample times in order");
    }
});
