//! The decode entry point on arbitrary bytes: FFmpeg probing, decoding, sampling, border
//! detection and resampling must end without a panic, in a result or a typed error.
#![no_main]

use clipmatch::config::Config;
use clipmatch::ingest::sample::{Views, decode_file};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("upload");
    std::fs::File::create(&input).unwrap().write_all(data).unwrap();
    let mut config = Config::default();
    (config.limits.max_pixels, config.limits.max_duration_s, config.limits.max_decode_s) = (1 << 22, 600.0, 5.0);
    let opts = config.decode_options(false, None);
    if let Ok(d) = decode_file(&input, &opts, Views::Query) {
        assert_eq!(d.times.len(), d.views.len());
        assert_eq!(d.images.len(), d.views.iter().map(|&n| n as usize).sum::<usize>());
        assert!(d.times.windows(2).all(|w| w[0] <= w[1]), "sample times in order");
    }
});
