//! The job's stages, each on a thread of its own so that they overlap: decoding (the
//! decode pipeline and its worker processes), search (uploads gathered into batches,
//! each described and searched in one engine call: on a GPU, thousands of descriptors
//! per dispatch, searched while the CPU aligns the batch before), and alignment, in
//! upload order, by the caller. Batching changes no row: every descriptor's neighbours
//! are its own, whatever else is searched with it.

use crate::error::{Error, Result, UploadError};
use crate::ingest::archive::Member;
use crate::ingest::pipeline::Outcome;
use crate::ingest::sample::Decoded;
use crate::kernels::descriptor::{Descriptor, PackedImage};
use crate::kernels::engine::{Engine, Searchable};
use crate::kernels::search::{Hit, Neighbours, TOPK};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

/// An upload's descriptors, each one's neighbours (empty lists where the catalogue held
/// has no frames), and its share of its batch's search time.
pub struct Searched {
    pub descriptors: Vec<Descriptor>,
    pub neighbours: Vec<Neighbours>,
    pub search_ms: f64,
}

/// An upload ready to align: decoded and searched, or why it could not be decoded.
pub struct Ready {
    pub result: std::result::Result<(Decoded, Searched), UploadError>,
    pub decode_ms: f64,
}

/// Uploads waiting between two stages for batches of `batch_images` images: enough for
/// decoding to gather the next batch of uploads of 256 images or more while one is
/// searched; 16 at least, so that decoding runs ahead of alignment.
fn queue(batch_images: usize) -> usize {
    (batch_images / 256).max(16)
}

/// Decodes through `decode` (which hands each upload to the sink it is given), searches
/// the uploads in `prepared` with `engine` in batches of `batch_images` images (the last
/// upload's may pass it; the last batch holds what is left) (only describes them where
/// it is not `searchable`: the catalogue held has no frames), and calls `align` with each
/// upload in order. The first error stops every stage and is returned: alignment's,
/// then search's, then decoding's.
pub fn run<'a>(
    decode: impl FnOnce(&mut dyn FnMut(Member, Outcome) -> Result<()>) -> Result<()> + Send,
    engine: &'a Engine,
    prepared: &'a Searchable<'a>,
    searchable: bool,
    batch_images: usize,
    align: &mut dyn FnMut(Member, Ready) -> Result<()>,
) -> Result<()> {
    std::thread::scope(|s| {
        let waiting = queue(batch_images);
        let (to_search, searching) = sync_channel::<(Member, Outcome)>(waiting);
        let (to_align, aligning) = sync_channel(waiting);
        let decoder = s.spawn(move || {
            decode(&mut |m, out| {
                to_search.send((m, out)).map_err(|_| Error::Invalid("the search stage stopped".into()))
            })
        });
        let searcher = s.spawn(move || search(searching, to_align, engine, prepared, searchable, batch_images));
        let mut aligned = Ok(());
        for (m, ready) in aligning.iter() {
            aligned = align(m, ready);
            if aligned.is_err() {
                break;
            }
        }
        // The stages before see their next hand-over fail, and stop.
        drop(aligning);
        let panicked = |stage: &str| Error::Invalid(format!("the {stage} stage panicked"));
        let searched = searcher.join().unwrap_or_else(|_| Err(panicked("search")));
        let decoded = decoder.join().unwrap_or_else(|_| Err(panicked("decode")));
        aligned.and(searched).and(decoded)
    })
}

fn images(out: &Outcome) -> &[PackedImage] {
    out.result.as_ref().map_or(&[], |d| &d.images)
}

/// The search stage: batches of uploads in, each upload with its search out, in order.
fn search(
    rx: Receiver<(Member, Outcome)>,
    tx: SyncSender<(Member, Ready)>,
    engine: &Engine,
    prepared: &Searchable,
    searchable: bool,
    batch_images: usize,
) -> Result<()> {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        let mut count = images(&batch[0].1).len();
        // A batch waits for its images: through the index, each batch reads every probed
        // cluster's lists once, from disk where they outgrow the page cache. Waiting
        // costs a small catalogue nothing (dev against 100 h in memory: 0.98x the wall
        // of searching whatever was waiting).
        while count < batch_images {
            let Ok(next) = rx.recv() else { break };
            count += images(&next.1).len();
            batch.push(next);
        }
        let all: Vec<PackedImage> = batch.iter().flat_map(|(_, out)| images(out)).copied().collect();
        // The images of the batch that search the strips, by index into `all`.
        let mut probes = Vec::new();
        let mut at = 0;
        for (_, out) in &batch {
            if let Ok(d) = &out.result {
                probes.extend(d.strip_probes().into_iter().map(|i| at + i));
            }
            at += images(out).len();
        }
        let started = Instant::now();
        let (descriptors, neighbours) = match (searchable, all.is_empty()) {
            (_, true) => (Vec::new(), Vec::new()),
            (false, false) => {
                let descriptors = engine.describe(&all)?;
                let none = vec![[Hit::EMPTY; TOPK]; descriptors.len()];
                (descriptors, none)
            }
            (true, false) => engine.describe_and_search_all(prepared, &all, &probes)?,
        };
        let per_image_ms = started.elapsed().as_secs_f64() * 1e3 / all.len().max(1) as f64;
        let (mut descriptors, mut neighbours) = (descriptors.into_iter(), neighbours.into_iter());
        for (m, out) in batch {
            let result = out.result.map(|d| {
                let n = d.images.len();
                let searched = Searched {
                    descriptors: descriptors.by_ref().take(n).collect(),
                    neighbours: neighbours.by_ref().take(n).collect(),
                    search_ms: per_image_ms * n as f64,
                };
                (d, searched)
            });
            if tx.send((m, Ready { result, decode_ms: out.decode_ms })).is_err() {
                // Alignment stopped; its error is the one reported.
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::UploadErrorKind;
    use crate::ingest::archive::Source;
    use crate::kernels::descriptor::WORDS;
    use crate::kernels::search::Matrix;
    use crate::testkit::random_image;

    fn member(i: usize) -> Member {
        let source = Source::Refused(UploadError::new(UploadErrorKind::Unreadable, "unused"));
        Member { archive: "a".into(), id: format!("u{i}"), size: 0, source }
    }

    /// Uploads of 0 to 900 images (batches then hold one upload or several), every
    /// fifth one failed to decode, every third sample portrait (its one image searching the strips).
    fn outcome(i: usize) -> Outcome {
        let n = (i * 397) % 901;
        let result = if i % 5 == 3 {
            Err(UploadError::new(UploadErrorKind::Decode, format!("upload {i}")))
        } else {
            let images = (0..n).map(|k| random_image((i * 1000 + k) as u64)).collect();
            let strip_parts = (0..n).map(|k| u8::from(k % 3 == 1)).collect();
            Ok(Decoded {
                images,
                views: vec![1; n],
                parts: vec![0; n],
                strip_parts,
                times: vec![0.0; n],
                info: Default::default(),
            })
        };
        Outcome { result, decode_ms: i as f64 }
    }

    #[test]
    fn batches_give_each_upload_its_own_search_in_order() {
        let engine = Engine::Cpu(Box::default());
        let words: Vec<u32> = (0..300).flat_map(|k| engine.describe(&[random_image(k)]).unwrap()[0].words).collect();
        assert_eq!(words.len(), 300 * WORDS);
        // 150 frames of 2 views, and 1 strip each (the last 150 descriptors again).
        let strips = &words[150 * WORDS..];
        let prepared = Searchable {
            views: engine.prepare(Matrix { words: &words, views: 2 }).unwrap(),
            strips: Some(engine.prepare(Matrix { words: strips, views: 1 }).unwrap()),
        };
        let uploads = 23;
        // Each upload alone, the default, and all in one batch.
        for batch_images in [1, 4096, 1 << 20] {
            let mut seen = Vec::new();
            run(
                |sink| (0..uploads).try_for_each(|i| sink(member(i), outcome(i))),
                &engine,
                &prepared,
                true,
                batch_images,
                &mut |m, ready| {
                    let i: usize = m.id[1..].parse().unwrap();
                    let alone = outcome(i);
                    assert_eq!(ready.decode_ms, alone.decode_ms);
                    match (ready.result, alone.result) {
                        (Ok((_, s)), Ok(d)) => {
                            let probes = d.strip_probes();
                            let (descriptors, neighbours) =
                                engine.describe_and_search_all(&prepared, &d.images, &probes).unwrap();
                            assert!(s.descriptors == descriptors && s.neighbours == neighbours, "upload {i}");
                        }
                        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                        _ => panic!("upload {i}: decoded in one, not the other"),
                    }
                    seen.push(i);
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(seen, (0..uploads).collect::<Vec<_>>());
        }
    }

    #[test]
    fn an_alignment_error_stops_every_stage_and_is_the_one_returned() {
        let engine = Engine::Cpu(Box::default());
        let words = vec![0u32; 4 * WORDS];
        let prepared = Searchable { views: engine.prepare(Matrix { words: &words, views: 1 }).unwrap(), strips: None };
        let decoded = std::sync::atomic::AtomicUsize::new(0);
        let e = run(
            |sink| {
                for i in 0.. {
                    decoded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    sink(member(i), outcome(i))?;
                }
                Ok(())
            },
            &engine,
            &prepared,
            true,
            4096,
            &mut |m, _| if m.id == "u4" { Err(Error::Invalid("align failed".into())) } else { Ok(()) },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), Error::Invalid("align failed".into()).to_string());
        // Decoding stopped within the queues' reach of the failure, not at the end.
        assert!(decoded.into_inner() < 5 + 3 * queue(4096) + 4096);
    }
}
