//! Randomised mutations of real segments: the reader must never panic, and everything
//! before the first damaged byte must still be read.
//!
//! cargo-fuzz needs a nightly toolchain, which this project does not use; this is the
//! bounded, deterministic stand-in (the same entry point as fuzz/fuzz_targets):
//!
//!     WAL_MUTATIONS=20000 WAL_MUTATION_SEED=7 cargo test --release --test wal_mutation
//!
//! Default: 1000 mutations, a few seconds in a debug build.
// A test fails by panicking, so unwrap is its assertion; a story reads top to bottom.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod wal_cluster;

use pitr_console::wal::scan_bytes;
use wal_cluster::{segment_names, Cluster};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn mutated_segments_never_panic_and_keep_their_valid_prefix() {
    let mut c = Cluster::init(55404, 1, &[], None);
    c.start();
    c.psql(
        "CREATE TABLE t (id serial PRIMARY KEY, v text);
         INSERT INTO t (v) SELECT repeat('x', 300) FROM generate_series(1, 3000);
         CHECKPOINT;
         DO $$ BEGIN FOR i IN 1..800 LOOP UPDATE t SET v = v || i WHERE id = i * 3; COMMIT; END LOOP; END $$;",
    );
    c.switch_and_wait_archived();
    c.stop();
    let names = segment_names(&c.archive);
    let segs: Vec<(u64, Vec<u8>)> = names
        .iter()
        .map(|n| {
            (
                u64::from_str_radix(&n[8..], 16).unwrap(),
                std::fs::read(c.archive.join(n)).unwrap(),
            )
        })
        .collect();
    let pairs: Vec<usize> = (0..segs.len() - 1)
        .filter(|&i| segs[i + 1].0 == segs[i].0 + 1)
        .collect();
    let originals: Vec<_> = pairs
        .iter()
        .map(|&i| scan_bytes(segs[i].0, &segs[i].1, Some(&segs[i + 1].1)))
        .collect();
    let mut rng = Rng(env_num("WAL_MUTATION_SEED", 0x5EED_CAFE) | 1);
    let rounds = env_num("WAL_MUTATIONS", 1000);
    for round in 0..rounds {
        let k = rng.below(pairs.len());
        let i = pairs[k];
        let (seg_no, ref first) = segs[i];
        let mut data = first.clone();
        let at = 40 + rng.below(data.len() - 40);
        // Pages are read whole, so a cut file loses the page the cut falls in.
        let mut first_bad = at;
        match rng.below(5) {
            0 => data[at] ^= 1 << rng.below(8),
            1 => data[at] = rng.next() as u8,
            2 => {
                data.truncate(at);
                first_bad = at / 8192 * 8192;
            }
            3 => data[at..]
                .iter_mut()
                .take(1 + rng.below(9000))
                .for_each(|b| *b = 0),
            _ => {
                let src = rng.below(data.len() - 64);
                let chunk: Vec<u8> = data[src..src + 64].to_vec();
                let end = (at + 64).min(data.len());
                data[at..end].copy_from_slice(&chunk[..end - at]);
            }
        }
        let (ends, broken) = scan_bytes(seg_no, &data, Some(&segs[i + 1].1));
        let cut = seg_no * first.len() as u64 + first_bad as u64;
        let (orig_ends, _) = &originals[k];
        for e in orig_ends.iter().filter(|e| e.end.0 <= cut) {
            assert!(
                ends.contains(e),
                "round {round}: mutation at offset {at} of segment {seg_no} lost {e:?} (break {broken:?})"
            );
        }
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    for _ in 0..200 {
        let len = rng.below(70_000);
        let mut data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if data.len() >= 40 && rng.below(2) == 0 {
            data[0..2].copy_from_slice(&0xD110u16.to_le_bytes());
            data[2..4].copy_from_slice(&2u16.to_le_bytes());
            data[8..16].copy_from_slice(&0u64.to_le_bytes());
            data[32..36].copy_from_slice(&(1u32 << 20).to_le_bytes());
            data[36..40].copy_from_slice(&8192u32.to_le_bytes());
        }
        let _ = scan_bytes(0, &data, Some(&data));
    }
}
