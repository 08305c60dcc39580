//! The archive reader on arbitrary bytes: whatever the input (tar, gzip, zstd, zip or
//! none of them, damaged anywhere), walking it must end without a panic, every member
//! either spooled within the limits or refused with a reason.
#![no_main]

use clipmatch::ingest::archive::{Limits, Source, WalkOptions, walk};
use libfuzzer_sys::fuzz_target;
use std::io::Write;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    std::fs::File::create(&input).unwrap().write_all(data).unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let limits = Limits { max_member_bytes: 1 << 20, max_total_bytes: 4 << 20 };
    let mut members = 0;
    let o = WalkOptions { limits: &limits, wanted: &|_, _| true, follow_links: false, tmp: &spool };
    let _ = walk(&input, &o, &mut |m| {
        if let Source::Spooled(p) = &m.source {
            assert!(std::fs::metadata(p).unwrap().len() <= limits.max_member_bytes);
        }
        members += 1;
        members < 10_000
    });
});
